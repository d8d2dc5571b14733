"""Configuration as API and as code (issue 19): see :mod:`itsm.core.config.registry`."""

from .registry import Child, ConfigResource, Ref, register, resource, resources

__all__ = ["Child", "ConfigResource", "Ref", "register", "resource", "resources"]
