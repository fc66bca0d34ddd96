"""Every run under a folder, as a table (``headstart runs``) or one at a time (``runs show``)."""

from headstart.runs.show import format_show, show_run
from headstart.runs.table import RunRow, find_runs, format_table, sort_rows

__all__ = ["RunRow", "find_runs", "format_show", "format_table", "show_run", "sort_rows"]
