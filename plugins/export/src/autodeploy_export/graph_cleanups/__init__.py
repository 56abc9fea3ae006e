"""Post-export graph cleanups: each function rewrites one GraphModule in place and returns how
many nodes it removed. They import torch; the transforms wrapping them (`cleanup_transforms`)
do not."""
