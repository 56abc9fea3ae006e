"""autodeploy's weight_load stage: ``load_weights`` and ``move_inputs_to_device``.

``load_weights`` streams a factory's checkpoint, one shard at a time, into the module built on
the meta device (an exported GraphModule or an eager model), checks that every tensor found its
place, and puts the non-persistent buffers on the target device. ``move_inputs_to_device`` puts
what an exported graph still records on the build device (its inputs' example values and its
constants) on the target device.

Importing this package (and its ``plugin`` module) does not import torch.
"""
