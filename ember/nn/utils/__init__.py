"""ember.nn.utils: gradient clipping, parameter vectors, parametrizations, rnn packing."""
