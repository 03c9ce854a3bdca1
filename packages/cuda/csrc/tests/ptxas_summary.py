"""Summarize nvcc -Xptxas -v output (the *.ptxas.txt files the kernels Makefile writes) into one table:
kernel (demangled-ish), arch, registers, spill stores/loads, stack. usage: python3 ptxas_summary.py BUILD_DIR > out.txt"""
import glob, os, re, sys

rows = []
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.ptxas.txt")) + glob.glob(os.path.join(sys.argv[1], "sm90", "*.ptxas.txt"))):
    text = open(path).read().split("\n")
    name = arch = None
    for i, line in enumerate(text):
        m = re.search(r"Compiling entry function '(\S+)' for '(\w+)'", line)
        if m:
            name, arch = m.group(1), m.group(2)
        m = re.search(r"Function properties for (\S+)", line)
        if m and name:
            spill = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", text[i + 1])
            regs = re.search(r"Used (\d+) registers", text[i + 2])
            short = re.sub(r"^_ZN5flash(\d+)?", "", name)
            short = re.sub(r"^(_GLOBAL__N__\w+?_\d+_)", "", short)
            short = short.replace("13__nv_bfloat16", "bf16,").replace("6__half", "f16,")
            short = re.sub(r"Li(\d+)E", r"\1,", short).replace("Lb1E", "T,").replace("Lb0E", "F,")
            short = re.sub(r"EEv14Flash\w+$|Ev14Flash\w+$|EEv\w*$", "", short)
            rows.append((os.path.basename(path).replace(".ptxas.txt", ""), arch, short, regs.group(1) if regs else "?",
                         spill.group(2) if spill else "?", spill.group(3) if spill else "?"))
print(f"{'file':16} {'arch':7} {'kernel':70} {'regs':>4} {'spillST':>7} {'spillLD':>7}")
for r in rows:
    print(f"{r[0]:16} {r[1]:7} {r[2][:70]:70} {r[3]:>4} {r[4]:>7} {r[5]:>7}")
