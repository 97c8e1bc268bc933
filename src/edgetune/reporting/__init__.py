"""Reports: tables (CSV, Markdown) and the papers' figures as PNG (matplotlib, Agg backend)."""
