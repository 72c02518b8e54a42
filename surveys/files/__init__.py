"""Files in and out: reading CSV/XLSX (reading), answers import/export (answers), and the
history and Riket figures typed in from earlier annual reports (history)."""
