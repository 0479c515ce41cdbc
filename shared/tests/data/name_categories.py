"""Writes name_categories.txt: the code point ranges of the Unicode general categories that
shared::clean_name looks at (Cc, Cf, Zs, Zl, Zp, Co), for the test that checks its table.

Run with the newest Unicode data you can get: `pip install unicodedata2` (a backport of the
latest Unicode version); without it, Python's own unicodedata is used, which may be older.
    python3 shared/tests/data/name_categories.py > shared/tests/data/name_categories.txt
"""

try:
    import unicodedata2 as ud
except ImportError:
    import unicodedata as ud

WANTED = ("Cc", "Cf", "Zs", "Zl", "Zp", "Co")

print("# Code point ranges of the general categories shared::clean_name looks at.")
print(f"# Unicode {ud.unidata_version}, from Python's {ud.__name__} module; written by name_categories.py.")
print("# first..last ; category")
start = None
for cp in range(0x110001):
    cat = ud.category(chr(cp)) if cp < 0x110000 else None
    if start is not None and cat != start[1]:
        if start[1] in WANTED:
            print(f"{start[0]:04X}..{cp - 1:04X} ; {start[1]}")
        start = None
    if start is None:
        start = (cp, cat)
