"""Records pip's answers for the requirement sets in sets.json (run by hand, needs PyPI).

For each set: `pip install --dry-run --report` with --only-binary :all: for this interpreter and for
a foreign platform. pip's HTTP cache (--cache-dir) then holds every index page and PEP 658
metadata file pip read; extract.py turns them into the offline test data.
Usage: python3 record.py CACHE_DIR [ID...]
"""
import json, os, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
FOREIGN = ["--platform", "manylinux2014_aarch64", "--python-version", "3.12", "--implementation", "cp", "--abi", "cp312"]
TARGETS = {"local": [], "foreign": FOREIGN}


def run(cache, reqs, extra, log):
    env = {k: v for k, v in os.environ.items() if k not in ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")}
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", log + ".json", "--only-binary", ":all:",
           "--ignore-installed", "--index-url", "https://pypi.org/simple", "--cache-dir", cache, "--log", log, *extra, *reqs]
    if extra:
        cmd[cmd.index("--ignore-installed")] = "--target=/tmp/oracle-unused-target"
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if p.returncode != 0:
        return {"error": p.stderr.strip().splitlines()[-8:]}
    report = json.load(open(log + ".json"))
    return {"install": sorted(
        [{"name": i["metadata"]["name"], "version": i["metadata"]["version"],
          "file": i["download_info"]["url"].rsplit("/", 1)[-1]} for i in report["install"]],
        key=lambda d: d["name"].lower())}


def main():
    cache = sys.argv[1]
    os.makedirs(os.path.join(cache, "logs"), exist_ok=True)
    only = set(sys.argv[2:])
    sets = json.load(open(os.path.join(HERE, "sets.json")))
    out_path = os.path.join(HERE, "pip-answers.json")
    answers = json.load(open(out_path)) if os.path.exists(out_path) else {}
    for s in sets:
        if only and s["id"] not in only:
            continue
        for name, extra in TARGETS.items():
            res = run(cache, s["reqs"], extra, os.path.join(cache, "logs", f"{s['id']}.{name}.log"))
            answers.setdefault(s["id"], {})[name] = res
            print(s["id"], name, "error" if "error" in res else len(res["install"]), flush=True)
            json.dump(answers, open(out_path, "w"), indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
