"""Sample action configs, one per action, under the file names DataRobot's runner uses (`--gen-config`)."""
