"""The plugin framework: BosunPluginBase, action results and infos, the action config, the loader and the runner."""
