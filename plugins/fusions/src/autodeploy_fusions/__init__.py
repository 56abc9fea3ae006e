"""autodeploy-plugin-fusions: pattern matchers (RMSNorm, SwiGLU, redundant transposes) and the
post-load fusions (concatenated GEMMs, fused norms, fused SwiGLU).

Importing this package (or its ``plugin`` module) never imports torch; the rewrites live in
modules that import torch and are loaded only when a transform runs.
"""

__version__ = "0.1.0"
