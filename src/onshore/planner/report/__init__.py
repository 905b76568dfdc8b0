"""Reporting: terminal tables, a Markdown report with SVG plots, and a JSON of every number.

Only this package (and the CLI) writes files; the model and simulator return data.
"""

from onshore.planner.report.document import sizing_json, write_report
from onshore.planner.report.table import catalog_tables, predict_table, sizing_table

__all__ = ["catalog_tables", "predict_table", "sizing_json", "sizing_table", "write_report"]
