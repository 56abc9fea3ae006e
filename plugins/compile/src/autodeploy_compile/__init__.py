"""autodeploy's compile stage: ``compile_model``.

Backends: ``torch-simple`` (no compilation: the module runs as it is) and ``torch-compile``
(``torch.compile``). Importing this package (and its ``plugin`` module) does not import torch.
"""
