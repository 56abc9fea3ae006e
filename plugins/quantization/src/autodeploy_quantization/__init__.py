"""autodeploy-plugin-quantization: weight-only int8 / 4-bit linear layers, and GGUF checkpoints
loaded quantized.

Importing this package (or its ``plugin`` module) never imports torch.
"""

__version__ = "0.1.0"
