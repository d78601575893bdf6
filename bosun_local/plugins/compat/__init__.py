"""DataRobot compatibility: `bosun.plugin` imports resolve to bosun-local's framework when datarobot-bosun is absent.

`alias` installs the import alias; the other modules hold the parts of DataRobot's public `bosun.plugin` surface
that have no home in the framework itself (exceptions, model package info, deployment utils, the runner class).
"""
