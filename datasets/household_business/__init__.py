"""The household-business register (hộ kinh doanh): spec, standardizer, rule pack, Python checks, VSIC data."""
