from envdoctor.cli import run

raise SystemExit(run())
