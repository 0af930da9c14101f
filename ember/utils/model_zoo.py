"""ember.utils.model_zoo: torch's older name for the hub's checkpoint loader."""
from ..hub import load_state_dict_from_url as load_url

__all__ = ["load_url"]
