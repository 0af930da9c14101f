"""torch.utils.data._utils' import paths, which torch's documentation uses to customise
collation (`from torch.utils.data._utils.collate import collate, default_collate_fn_map`)."""
