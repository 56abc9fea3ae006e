"""Registers: an object that is no transform, a key with spaces, a transform whose config class
does not derive TransformConfig, a factory that is no ModelFactory, a mode entry that is not a
mapping; and `still_fine`, which is valid and must stay usable."""

from pydantic import BaseModel

from autodeploy import BaseTransform, hookimpl


class NotATransformConfig(BaseModel):
    """Looks like a config, but lacks TransformConfig's fields (stage, enabled, ...)."""

    stage: str = "factory"


class WrongConfig(BaseTransform):
    @classmethod
    def get_config_class(cls):
        return NotATransformConfig


class SpacedKey(BaseTransform):
    """Valid class, invalid key."""


class StillFine(BaseTransform):
    """Valid class, valid key."""


class NotAFactory:
    """Has the name of a factory, not the base class."""


@hookimpl
def autodeploy_register_transforms(register):
    register("not_a_transform", object())
    register("has spaces", SpacedKey)
    register("wrong_config", WrongConfig)
    register("still_fine", StillFine)


@hookimpl
def autodeploy_register_factories(register):
    register("NotAFactory", NotAFactory)


@hookimpl
def autodeploy_register_modes(register):
    register("graph", {"still_fine": {"stage": "post_export"}, "broken_entry": "not a mapping"})
