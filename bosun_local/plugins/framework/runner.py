"""bosun-plugin-runner: run one plugin action from the command line and write its status file."""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from types import FrameType

from bosun_local.errors import BosunError
from bosun_local.plugins.framework.action_config import load_action_config, render_sample
from bosun_local.plugins.framework.action_status import ActionStatus, ActionStatusInfo
from bosun_local.plugins.framework.constants import BosunPluginActions
from bosun_local.plugins.framework.execution import ActionInterrupted, failed, run_action
from bosun_local.plugins.framework.handover import runner_plugin_config
from bosun_local.plugins.framework.loader import list_plugins, load_plugin_class

log = logging.getLogger("bosun-plugin-runner")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_received: list[str] = []


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with the documented runner flags."""
    p = argparse.ArgumentParser(
        prog="bosun-plugin-runner",
        description="Run one management-agent plugin action and write its status (YAML) to a file.",
        epilog="Example: bosun-plugin-runner --plugin filesystem --action pe_status --config cfg.yaml "
               "--status-file /tmp/status.yaml --show-status",
    )
    p.add_argument("--plugin", help="registered plugin name (see --list-plugins), module name, or .py path")
    p.add_argument("--action", help="action to run (see --list-actions)")
    p.add_argument("--config", help="action config YAML: pluginConfig, peInfo, deploymentInfo")
    p.add_argument("--private-config", help="plugin's private config file (YAML or JSON)")
    p.add_argument("--status-file", help="where to write the action status YAML")
    p.add_argument("--show-status", action="store_true", help="also print the status YAML on stdout")
    p.add_argument("--exit-codes", action="store_true",
                   help="exit with the status: 0 passing, 1 failing, 2 warning, 3 unknown")
    p.add_argument("--dry-run", action="store_true", help="ask the plugin to report what it would do")
    p.add_argument("--logfile", help="write logs to this file instead of stderr")
    p.add_argument("--log-level", default="info", type=str.lower, choices=LOG_LEVELS, help="default: info")
    p.add_argument("--list-actions", action="store_true", help="list the actions a plugin can run")
    p.add_argument("--list-plugins", action="store_true",
                   help="list the registered plugins (built-in and entry points) and whether they load")
    p.add_argument("--gen-config", nargs="?", const="-", metavar="FILE",
                   help="write a sample action config (for --action, with --plugin's settings) to FILE or stdout")
    p.add_argument("--json", action="store_true", help="print --list-actions / --list-plugins as JSON")
    return p


def _setup_logging(level: str, logfile: str | None) -> None:
    handler: logging.Handler = logging.FileHandler(logfile) if logfile else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    """Stop the running action; a second signal of the same kind ends the process at once."""
    name = signal.Signals(signum).name
    _received.append(name)
    signal.signal(signum, signal.SIG_DFL)
    raise ActionInterrupted(name)


def _ignore_signals() -> None:
    """Ignore further SIGTERM/SIGINT: the result is known and must be written whole."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _error(exc: BosunError) -> None:
    print(f"error: {exc.message}", file=sys.stderr)
    if exc.fix:
        print(f"  fix: {exc.fix}", file=sys.stderr)


def _print_lists(args: argparse.Namespace) -> int:
    if args.list_actions:
        actions = BosunPluginActions.all_actions()  # DataRobot's eleven, in its runner's order
        print(json.dumps(actions) if args.json else "\n".join(actions))
    if args.list_plugins:
        rows = list_plugins()
        if args.json:
            print(json.dumps(rows, indent=2))
        for row in [] if args.json else rows:
            state = row["class"] if row["available"] else row["detail"]
            print(f"{row['name']:<12} {row['module']:<32} {state}")
    return 0


def _gen_config(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.action and args.action not in BosunPluginActions.ALL:
        parser.error(f"--action {args.action} is not an action; known: {', '.join(BosunPluginActions.ALL)}")
    plugin_config = load_plugin_class(args.plugin).sample_plugin_config() if args.plugin else {}
    text = render_sample(args.action, args.plugin, plugin_config)
    if args.gen_config == "-":
        sys.stdout.write(text)
    else:
        with open(args.gen_config, "w") as fh:
            fh.write(text)
        log.info("wrote sample action config %s", args.gen_config)
    return 0


def _run(args: argparse.Namespace) -> tuple[ActionStatusInfo, bool]:
    """Run the action; return its status and whether it ran (False: config or plugin could not load)."""
    start = time.monotonic()
    try:
        config = load_action_config(args.config, args.action)
    except BosunError as exc:
        _error(exc)
        return failed(f"cannot run action {args.action}: {exc.message}", round(time.monotonic() - start, 4)), False
    # As DataRobot's runner: the agent's $MLOPS_API_TOKEN reaches the plugin as pluginConfig['mlopsApiToken'].
    config.plugin_config = runner_plugin_config(config.plugin_config, os.environ)
    try:
        plugin_cls = load_plugin_class(args.plugin)
    except BosunError as exc:
        _error(exc)
        # DataRobot's wording; the exit code (1, theirs 0) is a documented difference: a plugin that cannot load
        # is a broken installation, not an action's result.
        return failed(f"Exception occurred while loading plugin object for action {args.action}: error "
                      f"{exc.message}", round(time.monotonic() - start, 4)), False
    log.info("running %s.%s", plugin_cls.__name__, args.action)
    return run_action(plugin_cls, args.action, config.to_dict(), args.private_config, args.dry_run), True


def _exit_code(status: ActionStatusInfo, ran: bool, exit_codes: bool) -> int:
    if exit_codes:
        return ActionStatus.to_numeric[status.status]
    if _received:
        return 128 + signal.Signals[_received[0]].value
    # Without --exit-codes the status file carries the result, as in the seed's runner.
    return 0 if ran else 1


def main(argv: list[str] | None = None) -> None:
    """Run bosun-plugin-runner: 0 ok (or the status under --exit-codes), 1 failure, 2 usage error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _setup_logging(args.log_level, args.logfile)
    except OSError as exc:
        parser.error(f"--logfile {args.logfile}: {exc.strerror}")
    try:
        if args.list_actions or args.list_plugins:
            sys.exit(_print_lists(args))
        if args.gen_config is not None:
            sys.exit(_gen_config(args, parser))
    except BosunError as exc:
        _error(exc)
        sys.exit(1)
    missing = [flag for flag, value in (("--plugin", args.plugin), ("--action", args.action),
                                         ("--config", args.config)) if not value]
    if missing:
        parser.error(f"{', '.join(missing)} required to run an action")
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    start = time.monotonic()
    status: ActionStatusInfo | None = None
    ran = False
    try:
        status, ran = _run(args)
        _ignore_signals()
    except ActionInterrupted as exc:
        _ignore_signals()
        if status is None:  # a signal after the action finished does not change its result
            status = failed(f"action {args.action} was {exc} before it started", round(time.monotonic() - start, 4))
    code = _exit_code(status, ran, args.exit_codes)
    show = args.show_status or not args.status_file
    if args.status_file:
        try:
            status.write_to_file(args.status_file)
        except OSError as exc:
            print(f"error: cannot write status file {args.status_file}: {exc.strerror}\n"
                  f"  fix: pass a --status-file in an existing, writable directory", file=sys.stderr)
            code, show = 1, True
    if show:
        sys.stdout.write(status.to_yaml())
    sys.stdout.flush()
    sys.exit(code)


if __name__ == "__main__":
    main()
