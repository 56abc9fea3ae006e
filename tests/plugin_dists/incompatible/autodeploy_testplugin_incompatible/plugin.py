"""Must never be imported: the host refuses it on its core requirement before importing."""

raise RuntimeError("autodeploy_testplugin_incompatible.plugin was imported although its core range excludes this core")
