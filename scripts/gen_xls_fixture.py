#!/usr/bin/env python3
"""Write fixtures/hunan-2020-variants/36_wide_wan.xls (Excel 97-2003, BIFF8)
from the tab-separated copy that `fundledger-devtools gen-variants` writes.

No Rust crate writes BIFF8, so this uses xlwt (`pip install xlwt==1.3.0`).
Amounts and ordinals become number cells, as Excel or WPS would store them;
everything else stays text. The output depends on the input alone.

    cargo run -p fundledger-devtools -- gen-variants --out fixtures/hunan-2020-variants
    python3 scripts/gen_xls_fixture.py fixtures/hunan-2020-variants
"""
import re
import sys
from pathlib import Path

import xlwt

NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def main(folder: str) -> None:
    out_dir = Path(folder)
    text = (out_dir / "36_tab_separated.xls").read_bytes().decode("gb18030")
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("分配表")
    wan = xlwt.easyxf(num_format_str="0.00")
    for r, line in enumerate(text.split("\r\n")):
        if not line:
            continue
        for c, cell in enumerate(line.split("\t")):
            if cell == "":
                continue
            if NUMBER.match(cell):
                if "." in cell:
                    sheet.write(r, c, float(cell), wan)
                else:
                    sheet.write(r, c, int(cell))
            else:
                sheet.write(r, c, cell)
    book.save(str(out_dir / "36_wide_wan.xls"))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "fixtures/hunan-2020-variants")
