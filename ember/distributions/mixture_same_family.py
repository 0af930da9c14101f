"""MixtureSameFamily (torch.distributions.MixtureSameFamily): a Categorical choice among the
components of one batched distribution."""
from __future__ import annotations

from .._tensor import Size
from ..autograd.grad_mode import no_grad
from .bernoulli import Categorical
from .distribution import Distribution

__all__ = ["MixtureSameFamily"]


class MixtureSameFamily(Distribution):
    """A mixture whose component k is the k-th entry of the rightmost batch dim of
    `component_distribution`, picked with `mixture_distribution`'s probabilities.

    >>> import ember
    >>> from ember.distributions import Categorical, MixtureSameFamily, Normal
    >>> mix = MixtureSameFamily(Categorical(ember.ones(2)), Normal(ember.zeros(2), 1.0))
    >>> mix.log_prob(ember.tensor(0.0))
    tensor(-0.9189)
    """

    arg_constraints: dict = {}
    has_rsample = False

    def __init__(self, mixture_distribution, component_distribution, validate_args=None):
        if not isinstance(mixture_distribution, Categorical):
            raise ValueError(" The Mixture distribution needs to be an  instance of "
                             "torch.distributions.Categorical")
        if not isinstance(component_distribution, Distribution):
            raise ValueError("The Component distribution need to be an instance of "
                             "torch.distributions.Distribution")
        mix_batch = tuple(mixture_distribution.batch_shape)
        comp_batch = tuple(component_distribution.batch_shape)
        for m, c in zip(reversed(mix_batch), reversed(comp_batch[:-1])):
            if m != 1 and c != 1 and m != c:
                raise ValueError(f"`mixture_distribution.batch_shape` ({Size(mix_batch)}) is "
                                 f"not compatible with `component_distribution.batch_shape`"
                                 f"({Size(comp_batch[:-1])})")
        km = mixture_distribution.logits.shape[-1]
        kc = comp_batch[-1]
        if km != kc:
            raise ValueError(f"`mixture_distribution component` ({km}) does not equal "
                             f"`component_distribution.batch_shape[-1]` ({kc})")
        self._mixture_distribution = mixture_distribution
        self._component_distribution = component_distribution
        self._num_component = km
        self._event_ndims = len(component_distribution.event_shape)
        super().__init__(comp_batch[:-1], component_distribution.event_shape,
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(MixtureSameFamily, _instance)
        batch_shape = tuple(batch_shape)
        new._component_distribution = self._component_distribution.expand(
            batch_shape + (self._num_component,))
        new._mixture_distribution = self._mixture_distribution.expand(batch_shape)
        new._num_component = self._num_component
        new._event_ndims = self._event_ndims
        return self._finish_expand(new, batch_shape)

    @property
    def support(self):
        return self._component_distribution.support

    @property
    def mixture_distribution(self):
        return self._mixture_distribution

    @property
    def component_distribution(self):
        return self._component_distribution

    def _weights(self):
        """The mixture probabilities shaped to broadcast against a component's values."""
        return self._mixture_distribution.probs.reshape(
            tuple(self._mixture_distribution.probs.shape) + (1,) * self._event_ndims)

    @property
    def mean(self):
        return (self._weights() * self._component_distribution.mean).sum(-1 - self._event_ndims)

    @property
    def variance(self):
        """The law of total variance: E[Var | k] + Var[E | k]."""
        dim = -1 - self._event_ndims
        w = self._weights()
        within = (w * self._component_distribution.variance).sum(dim)
        gap = self._component_distribution.mean - self.mean.unsqueeze(dim)
        return within + (w * gap.pow(2)).sum(dim)

    def _pad(self, x):
        return x.unsqueeze(-1 - self._event_ndims)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        log_prob_x = self._component_distribution.log_prob(self._pad(value))
        log_mix = self._mixture_distribution.logits.log_softmax(-1)
        return (log_prob_x + log_mix).logsumexp(-1)

    def cdf(self, value):
        cdf_x = self._component_distribution.cdf(self._pad(value))
        return (cdf_x * self._mixture_distribution.probs).sum(-1)

    def sample(self, sample_shape=Size()):
        with no_grad():
            sample_shape = tuple(sample_shape)
            which = self._mixture_distribution.sample(sample_shape)
            mix_batch = tuple(self._mixture_distribution.batch_shape)
            lead = (1,) * (len(self._batch_shape) - len(mix_batch))
            which = which.reshape(sample_shape + lead + mix_batch).expand(
                sample_shape + tuple(self._batch_shape))
            draws = self._component_distribution.sample(sample_shape)
            index = which.reshape(tuple(which.shape) + (1,) * (1 + self._event_ndims))
            index = index.expand(tuple(which.shape) + (1,) + tuple(self._event_shape))
            return draws.gather(-1 - self._event_ndims, index).squeeze(-1 - self._event_ndims)

    def __repr__(self) -> str:
        return (f"MixtureSameFamily(\n  {self._mixture_distribution!r},\n  "
                f"{self._component_distribution!r})")
