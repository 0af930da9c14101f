"""ember.version: torch.version's build facts."""
import ember


def test_version_module():
    """Scripts print torch.version.cuda and gate GPU code on it being set."""
    assert ember.version.cuda is None and ember.version.hip is None
    assert ember.version.__version__ == ember.__version__
