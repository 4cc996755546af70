"""Demo generator speed: write_demo at N persons (default 200k) against polars writing the same raw rows, same run."""

import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from sachsong.demo import residents as demo

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
tmp = Path(tempfile.mkdtemp())


def clock(fn):
    w, c = time.perf_counter(), time.process_time()
    r = fn()
    return r, time.perf_counter() - w, time.process_time() - c


summary, w_all, c_all = clock(lambda: demo.write_demo(tmp / "demo", persons=N))
print(summary.describe())
truth = pl.read_parquet(summary.paths["records"])
raw = truth.select([c for c in truth.columns if c.startswith("raw_")])
_, w_base, c_base = clock(lambda: raw.write_csv(tmp / "baseline.csv"))
print(
    f"write_demo({N}): wall {w_all:.1f}s cpu {c_all:.1f}s; baseline (polars write_csv of the same {raw.height} raw rows): wall {w_base:.2f}s cpu {c_base:.2f}s; ratio cpu {c_all / c_base:.1f}x"
)

frame = raw.head(50_000)
_, w_vec, c_vec = clock(lambda: demo._write_xlsx(tmp / "vec.xlsx", frame))


def cellwise():
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(tmp / "cell.xlsx"), {"constant_memory": True})
    ws = wb.add_worksheet()
    ws.write_row(0, 0, frame.columns)
    for i, row in enumerate(frame.iter_rows(), start=1):
        for j, v in enumerate(row):
            if v is not None:
                ws.write_string(i, j, v)
    wb.close()


_, w_cell, c_cell = clock(cellwise)
print(
    f"xlsx 50k rows: vectorized cpu {c_vec:.2f}s vs xlsxwriter cell loop cpu {c_cell:.2f}s: {c_cell / c_vec:.1f}x faster"
)
print("peak RSS MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
shutil.rmtree(tmp)
