"""Turns the pip runs of record.py into the offline test data (index.json.gz).

For every project pip looked at (its log's project pages) the data keeps the files of the versions
from the oldest one pip downloaded up to the newest, limited to wheels that fit this interpreter or
the foreign platform, and each such version's core metadata (only the fields resolution reads).
The pages and .metadata files are fetched with pip's own HTTP session.
Usage: python3 extract.py CACHE_DIR
"""
import gzip, io, json, os, re, sys, zipfile
from concurrent.futures import ThreadPoolExecutor
from pip._internal.network.session import PipSession
from pip._internal.utils.compatibility_tags import get_supported
from pip._vendor.packaging.tags import sys_tags
from pip._vendor.packaging.utils import canonicalize_name, parse_wheel_filename
from pip._vendor.packaging.version import InvalidVersion

HERE = os.path.dirname(os.path.abspath(__file__))
TAGS = {str(t) for t in sys_tags()} | {str(t) for t in get_supported(version="312", platforms=["manylinux2014_aarch64"], impl="cp", abis=["cp312"])}
KEEP = ("metadata-version", "name", "version", "requires-dist", "requires-python", "provides-extra")


def main():
    logs = os.path.join(sys.argv[1], "logs")
    pages, downloaded = set(), {}
    for f in os.listdir(logs):
        if not f.endswith(".log"):
            continue
        for line in open(os.path.join(logs, f), errors="replace"):
            m = re.search(r"Fetching project page and analyzing links: https://pypi.org/simple/([^/]+)/", line)
            if m:
                pages.add(canonicalize_name(m.group(1)))
            m = re.search(r'"GET /packages/\S+/([^/\s]+\.whl)(?:\.metadata)? HTTP', line)
            if m:
                name, version, _, _ = parse_wheel_filename(m.group(1))
                downloaded.setdefault(canonicalize_name(name), set()).add(version)
    session = PipSession()
    session.headers["Accept"] = "application/vnd.pypi.simple.v1+json"

    def page(name):
        r = session.get(f"https://pypi.org/simple/{name}/")
        r.raise_for_status()
        return name, r.json()

    projects, wanted = {}, {}
    with ThreadPoolExecutor(8) as pool:
        for name, data in pool.map(page, sorted(pages)):
            oldest = min(downloaded.get(name, set()), default=None)
            files = []
            for f in data["files"]:
                fn = f["filename"]
                if not fn.endswith(".whl"):
                    continue
                try:
                    _, version, _, tags = parse_wheel_filename(fn)
                except (InvalidVersion, ValueError):
                    continue
                if oldest is None or version < oldest or not ({str(t) for t in tags} & TAGS):
                    continue
                files.append([fn, f.get("requires-python"), f.get("yanked") or None])
                if version not in wanted.setdefault(name, {}):
                    wanted[name][version] = f["url"]
            projects[name] = files

    def metadata(url):
        r = session.get(url + ".metadata")
        if r.status_code == 404:
            # No PEP 658 file: the METADATA inside the wheel.
            w = session.get(url)
            w.raise_for_status()
            with zipfile.ZipFile(io.BytesIO(w.content)) as z:
                name = next(n for n in z.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n))
                text = z.read(name).decode("utf-8", "replace")
        else:
            r.raise_for_status()
            text = r.text
        head = text.replace("\r\n", "\n").split("\n\n")[0]
        lines, keep = [], False
        for line in head.split("\n"):
            if line[:1] in (" ", "\t"):
                if keep:
                    lines.append(line)
                continue
            keep = line.split(":", 1)[0].lower() in KEEP
            if keep:
                lines.append(line)
        return url.rsplit("/", 1)[-1], "\n".join(lines) + "\n"

    urls = [u for versions in wanted.values() for u in versions.values()]
    with ThreadPoolExecutor(8) as pool:
        meta = dict(pool.map(metadata, urls))
    out = {"projects": projects, "metadata": meta}
    with gzip.open(os.path.join(HERE, "index.json.gz"), "wt") as fh:
        json.dump(out, fh, sort_keys=True, separators=(",", ":"))
    print(len(projects), "projects,", sum(map(len, projects.values())), "files,", len(meta), "metadata files")


if __name__ == "__main__":
    main()
