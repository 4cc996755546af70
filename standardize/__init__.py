"""Pure, vectorized normalizers over polars columns: text, names, dates, sex, IDs, phones, addresses."""
