"""scripts/benchmark.py's printed tables: one network's cases, and several networks side by side."""

from utils.engine.reports import NAMES


def print_network(info: dict) -> None:
    """One network's table: seconds, FLOPs, FLOP/s, efficiency, peak memory, autocast/compile error."""
    print(f"\n{NAMES[info['model']]}: {info['parameters']:,} parameters")
    print(f"| {'case':<42} | {'seconds':>8} | {'GFLOP':>8} | {'GFLOP/s':>8} | {'efficiency':>10} | {'peak MiB':>8} "
          f"| {'max err':>8} |")  # fmt: skip
    print("|" + "|".join("-" * n for n in (44, 10, 10, 10, 12, 10, 10)) + "|")
    for r in info["results"]:
        mem = r.get("peak_rss_mib", r.get("peak_cuda_mib"))
        mem_s = f"{mem:8.0f}" if mem else " " * 8
        err_s = f"{r['max_abs_err']:8.1e}" if "max_abs_err" in r else " " * 8
        print(f"| {r['case']:<42} | {r['seconds']:8.3f} | {r['gflop']:8.2f} | {r['gflop_per_s']:8.1f} | "
              f"{r['efficiency']:10.3f} | {mem_s} | {err_s} |")  # fmt: skip
    if paper := info["paper"]:
        size = paper["paper_size"]
        ours = ", ".join(f"{gmac:.2f} G at {s}x{s}" for s, gmac in paper["gmac"].items())
        diff = paper["gmac"][size] / paper["paper_gmac"] - 1
        print(f"multiply-accumulates: {ours}; paper (Table 4): {paper['paper_gmac']} G, fits {size}x{size} "
              f"({diff:+.1%})")  # fmt: skip


def side_by_side(infos: list[dict]) -> list[str]:
    """Markdown lines: each case's seconds and peak memory per network, with each network's time relative
    to the first network's (the cases every network ran, in the first network's order)."""
    first = infos[0]
    by_case = [{r["case"]: r for r in info["results"]} for info in infos]
    names = [NAMES[i["model"]] for i in infos]
    head = [f"{name} s | {name} MiB" for name in names] + [f"{name} / {names[0]}" for name in names[1:]]
    lines = [f"| case | {' | '.join(head)} |", "|---" * (3 * len(infos)) + "|"]
    for case in (r["case"] for r in first["results"]):
        if not all(case in rows for rows in by_case):
            continue
        rows = [rows[case] for rows in by_case]
        cells = []
        for r in rows:
            mem = r.get("peak_rss_mib", r.get("peak_cuda_mib"))
            cells += [f"{r['seconds']:.3f}", f"{mem:.0f}" if mem else ""]
        ratios = [f"{r['seconds'] / rows[0]['seconds']:.2f}x" for r in rows[1:]]
        lines.append(f"| {case} | " + " | ".join(cells + ratios) + " |")
    return lines
