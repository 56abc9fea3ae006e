"""autodeploy's Hugging Face model factories (``AutoModelForCausalLM``, ``AutoModelForImageTextToText``).

Importing this package is cheap: torch and transformers load only when a factory builds or loads.
"""

from .factory import AutoModelForCausalLMFactory, AutoModelForImageTextToTextFactory, HFModelFactory

__all__ = ["AutoModelForCausalLMFactory", "AutoModelForImageTextToTextFactory", "HFModelFactory"]
