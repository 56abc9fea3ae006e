"""autodeploy-plugin-export: the ``export_to_gm`` transform and the post-export graph cleanups.

Importing this package (or its ``plugin`` module) never imports torch: listing transforms must
stay cheap. The modules doing the work (`capture`, `device_retarget`, `graph_cleanups`) import
torch themselves and are loaded only when a transform runs or a helper is called.

Naming convention other plugins rely on: the GraphModule that ``export_to_gm`` produces has the
same ``state_dict()`` keys (and the same buffer names, non-persistent ones included) as the
eager model it was exported from, so a checkpoint written for the eager model loads into it by
name. See `autodeploy_export.capture` for the details (tied weights, rotary buffers, meta).
"""

__version__ = "0.1.0"
