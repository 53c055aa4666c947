#!/usr/bin/env python3
"""Benchmark `tidings build` and `tidings run --once` on a synthetic archive of N posts.

    python3 bench/bench.py --posts 10000 [--posts 100000] [--keep DIR]

Generates posts like the ones RSSHub-to-Hexo generators write (a blank line before `---`,
RFC 2822 or zone-less dates, 3-level categories under ~20 top-level ones, 3-10 KB HTML or
Markdown bodies with images), then times a cold build (empty feeds folder, no parse cache, the
posts read once beforehand so both tools find them in the page cache; best of two), a
rebuild with nothing changed (stops after the walk), a rebuild from the parse cache (the settled
record removed) and a rebuild after one post is edited, and reports wall time and peak RSS of
the tidings process for each. When `hugo` is installed, Hugo builds the same archive's feeds
(RSS for home, sections and terms; no HTML pages) in the same run, for the ratios. Then, with
five instant webhook notifiers pointed at a receiver on 127.0.0.1, times `run --once` three
times: the first run (records the whole archive as seen), a pass that finds nothing new, and a
pass that finds 100 new posts (queued in one transaction, 500 messages delivered). Then
`tidings serve` on the same archive under wrk: the site RSS feed whole, gzipped, and
revalidated with If-None-Match (304). With `--postgres URL` (a server whose user may create
databases, e.g. the one `.ci/postgres start` prints), also: 100 new posts x 5 webhooks
delivered by daemons (`tidings run`, scanning every second) on one node with a SQLite file,
one node on PostgreSQL and three nodes on PostgreSQL, timed from the posts appearing to the
last message received; and a DKIM-signed digest of 50 posts to 5,000 readers made and
delivered (file transport) by one node on SQLite, one on PostgreSQL and three on PostgreSQL.
Uses the `dist` build (whole-program optimisation; built first with `cargo build --profile dist`). Sends nothing beyond
127.0.0.1.
"""
import argparse
import calendar
import http.server
import json
import os
import pathlib
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
BINARY = ROOT / "target" / "dist" / "tidings"

WORDS = ("feed reader archive post category digest schedule notify publish channel "
         "server client update release stable network message subscriber summary").split()
CJK = "新闻科技芯片手机动画放送周一产能工厂发布市场数据报告城市交通天气体育音乐电影读书".strip()
DAYS = "Mon Tue Wed Thu Fri Sat Sun".split()
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def sentence(rng):
    if rng.random() < 0.5:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20))).capitalize() + "."
    return "".join(rng.choice(CJK) for _ in range(rng.randint(15, 40))) + "。"


def body(rng, markdown):
    target = rng.randint(3000, 10000)
    parts = []
    size = 0
    while size < target:
        para = " ".join(sentence(rng) for _ in range(rng.randint(2, 6)))
        if rng.random() < 0.2:
            img = f"https://img.example.net/{rng.randrange(10**6)}.jpeg"
            para = f"![pic]({img})" if markdown else f'<img src="{img}" data-size="1080,718">'
        if markdown:
            parts.append(para if rng.random() > 0.1 else f"## {sentence(rng)}")
        else:
            parts.append(f"<p>{para}</p>")
        size += len(para.encode())
    return ("\n\n" if markdown else "").join(parts) if markdown else "<div>\n" + "".join(parts) + "\n</div>\n"


def generate(dest, n, seed=7):
    rng = random.Random(seed)
    tops = [f"{''.join(rng.sample(CJK, 2))}{i}" for i in range(20)]
    tree = {t: {f"{t}-{''.join(rng.sample(CJK, 2))}{j}": [f"频道{k}" for k in range(3)] for j in range(4)} for t in tops}
    # One post every 15 minutes, ending in 2023: every post is already published.
    start = 1_700_000_000 - n * 900
    for i in range(n):
        top = rng.choice(tops)
        mid = rng.choice(list(tree[top]))
        leaf = rng.choice(tree[top][mid])
        ts = start + i * 900 + rng.randrange(900)
        t = time.gmtime(ts)
        if rng.random() < 0.5:
            date = f"{DAYS[t.tm_wday]}, {t.tm_mday:02d} {MONTHS[t.tm_mon - 1]} {t.tm_year} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
        else:
            date = time.strftime("%Y-%m-%d %H:%M:%S", t)
        markdown = rng.random() < 0.5
        title = sentence(rng)[:60].replace("'", "''")
        folder = dest / top / mid / leaf
        folder.mkdir(parents=True, exist_ok=True)
        text = (f"\n---\ntitle: '{title}'\ncategories: \n - {top}\n - {mid}\n - {leaf}\n"
                f"headimg: 'https://img.example.net/head/{i}.jpeg'\nauthor: bench\ndate: {date}\n---\n\n"
                + body(rng, markdown))
        (folder / f"post-{i:06d}.{'md' if markdown else 'html'}").write_text(text, encoding="utf-8")


def measure(args, cpu=False):
    # Output goes to files, not pipes: a daemon's log lines would fill a pipe nobody reads
    # until the process ends, and the process would wait forever.
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        started = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out_file, stderr=err_file)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        out_file.seek(0)
        err_file.seek(0)
        out = out_file.read().decode()
        err = err_file.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"tidings failed:\n{out}{err}")
    if cpu:
        return elapsed, usage.ru_maxrss / 1024, out.strip(), usage.ru_utime + usage.ru_stime
    return elapsed, usage.ru_maxrss / 1024, out.strip()


def set_aside(folder):
    """Moves an earlier run's output out of the way instead of deleting it. On ext4 without
    a journal (the machine the README's figures come from), a file created within ~35 s of
    thousands being deleted makes the kernel step past every recently freed inode
    (`recently_deleted`): 20% of a cold build's time went there, a cost of the benchmark's
    own clean-up that no real first build pays. The folders are removed once all timings are taken."""
    if folder.exists():
        folder.rename(folder.with_name(f".old-{folder.name}-{time.time_ns()}"))


LEFT_FOR_LATER = []


def warm_page_cache(folder):
    # In another process: a child's peak RSS counts what it inherited from this one before
    # exec, so this process must not grow by reading 100,000 files itself.
    subprocess.run(["find", str(folder), "-type", "f", "-exec", "cat", "{}", "+"],
                   stdout=subprocess.DEVNULL, check=True)


def run(n, keep):
    work = pathlib.Path(keep) if keep else pathlib.Path(tempfile.mkdtemp(prefix="tidings-bench-"))
    posts = work / f"posts-{n}"
    shutil.rmtree(posts / "bench-new", ignore_errors=True)  # left by an interrupted run
    if not posts.exists():
        t0 = time.perf_counter()
        generate(posts, n)
        print(f"generated {n} posts in {time.perf_counter() - t0:.1f} s")
    feeds = work / f"feeds-{n}"
    set_aside(feeds)
    state = work / f"build-state-{n}"
    shutil.rmtree(state, ignore_errors=True)
    config = work / f"settings-{n}.toml"
    config.write_text(f'[site]\ntitle = "Bench"\nurl = "https://bench.example.org/"\n'
                      f'timezone = "Asia/Shanghai"\n[content]\ndir = "{posts}"\n'
                      f'[feeds]\ndir = "{feeds}"\n[state]\npath = "{state}/state.db"\n', encoding="utf-8")
    args = [str(BINARY), "--config", str(config), "build"]
    # The parse cache and the settled record trust no file changed in the seconds before a
    # pass; a freshly generated archive waits that out, as any real archive has.
    time.sleep(2.5)
    # Cold = no feeds and no parse cache, the posts in the page cache: read once here, as
    # Hugo (run second, best of two) would otherwise find them there and tidings not.
    warm_page_cache(posts)
    colds = []
    for _ in range(2):
        set_aside(feeds)
        shutil.rmtree(state, ignore_errors=True)
        colds.append(measure(args))
    cold = min(colds)
    settled = measure(args)
    settled = min(settled, measure(args))
    # The parse cache alone: the settled record gone (as after any change), every post
    # taken from the cache, every feed planned.
    (state / "state.db.settled").unlink(missing_ok=True)
    cached = measure(args)
    # One post edited: read again, its feeds rendered again.
    edited_post = next(posts.rglob("*.md"))
    original = edited_post.read_text(encoding="utf-8")
    edited_post.write_text(original + "\nEdited.\n", encoding="utf-8")
    edited = measure(args)
    edited_post.write_text(original, encoding="utf-8")
    size = sum(f.stat().st_size for f in feeds.rglob("*") if f.is_file())
    files = sum(1 for f in feeds.rglob("*") if f.is_file())
    print(f"posts={n}: cold build {cold[0]:.3f} s, peak RSS {cold[1]:.0f} MB | "
          f"no-change rebuild {settled[0]:.3f} s, peak RSS {settled[1]:.0f} MB | "
          f"from the parse cache {cached[0]:.3f} s ({cached[1]:.0f} MB) | "
          f"one post edited {edited[0]:.3f} s ({edited[1]:.0f} MB) | "
          f"{files} files, {size / 1e6:.1f} MB written")
    print(f"  tidings: {cold[2]}")
    bench_hugo(work, posts, n, cold[0], settled[0])
    bench_run(work, posts, feeds, n)
    bench_serve(work, posts, feeds, n)
    # Removed when every figure is taken (see `set_aside`).
    LEFT_FOR_LATER.extend(work.glob(".old-*"))
    if not keep:
        LEFT_FOR_LATER.append(work)


def bench_hugo(work, posts, n, cold, settled):
    """Hugo (when installed) building the same archive's feeds, in the same run: RSS for the
    home page, sections and taxonomy terms, 20 items each, no HTML pages rendered."""
    hugo = shutil.which("hugo")
    if hugo is None:
        print("hugo: skipped (apt-get install hugo)")
        return
    site = work / f"hugo-{n}"
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir()
    (site / "hugo.toml").write_text(
        f'baseURL = "https://bench.example.org/"\ntitle = "Bench"\ncontentDir = "{posts}"\n'
        'timeZone = "Asia/Shanghai"\ndisableKinds = ["sitemap", "robotsTXT", "404"]\n'
        '[outputs]\nhome = ["RSS"]\nsection = ["RSS"]\ntaxonomy = ["RSS"]\nterm = ["RSS"]\n'
        '[services.rss]\nlimit = 20\n'
        '[[cascade]]\n[cascade._build]\nrender = "never"\nlist = "always"\n[cascade._target]\nkind = "page"\n',
        encoding="utf-8")
    version = subprocess.run([hugo, "version"], capture_output=True, text=True).stdout.split()[1]
    runs = []
    for _ in range(2):
        out = work / f"hugo-out-{n}"
        set_aside(out)
        runs.append(measure([hugo, "--quiet", "--source", str(site), "--destination", str(out),
                             "--cacheDir", str(site / "cache")]))
    best = min(runs)
    files = sum(1 for f in (work / f"hugo-out-{n}").rglob("*") if f.is_file())
    print(f"hugo {version}: {best[0]:.3f} s, peak RSS {best[1]:.0f} MB, {files} files | "
          f"tidings cold = {cold / best[0]:.2f}x Hugo, no-change = {settled / best[0]:.3f}x Hugo")


class Server(http.server.ThreadingHTTPServer):
    """A local receiver with a listen backlog deep enough for 50 connections at once."""

    request_queue_size = 256
    daemon_threads = True


class Accept(http.server.BaseHTTPRequestHandler):
    """A webhook receiver that accepts everything (and counts it)."""
    count = 0

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        Accept.count += 1
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def bench_run(work, posts, feeds, n, pg_url=None):
    server = Server(("127.0.0.1", 0), Accept)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    state = work / f"state-{n}.db"
    for suffix in ("", "-wal", "-shm", ".posts", ".settled"):
        pathlib.Path(str(state) + suffix).unlink(missing_ok=True)
    for name in ("node.posts", "node.settled"):
        (work / ".tidings" / name).unlink(missing_ok=True)
    state_toml = f'url = "{pg_url}"' if pg_url else f'path = "{state}"'
    config = work / f"run-{n}.toml"
    hooks = "".join(f'[notifiers.hook{i}]\ntype = "webhook"\nurl = "{url}"\nsecret = "bench-secret"\n' for i in range(5))
    config.write_text(f'[site]\ntitle = "Bench"\nurl = "https://bench.example.org/"\n'
                      f'timezone = "Asia/Shanghai"\n[content]\ndir = "{posts}"\n'
                      f'[feeds]\ndir = "{feeds}"\n[state]\n{state_toml}\n{hooks}', encoding="utf-8")
    args = [str(BINARY), "--config", str(config), "run", "--once"]
    first = measure(args)
    idle = measure(args)
    idle = min(idle, measure(args))
    fresh = posts / "bench-new"
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir()
    now = time.gmtime(time.time() - 3600)
    for i in range(100):
        (fresh / f"new-{i:03d}.md").write_text(
            f"\n---\ntitle: 'New post {i}'\ncategories: \n - bench\ndate: {time.strftime('%Y-%m-%d %H:%M:%S', now)}\n---\n\nNew body {i}.\n",
            encoding="utf-8")
    burst = measure(args)
    shutil.rmtree(fresh)
    server.shutdown()
    label = "PostgreSQL" if pg_url else "SQLite"
    print(f"posts={n} ({label}): run --once first {first[0]:.3f} s ({first[1]:.0f} MB) | nothing new {idle[0]:.3f} s "
          f"({idle[1]:.0f} MB) | 100 new x 5 webhooks {burst[0]:.3f} s ({burst[1]:.0f} MB)")
    print(f"  tidings: {burst[2]}")


def wrk(url, seconds, headers=()):
    """Requests per second and p99 latency from wrk (2 threads, 64 connections)."""
    args = ["wrk", "-t2", "-c64", f"-d{seconds}s", "--latency"]
    for header in headers:
        args += ["-H", header]
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    rps = float(next(line.split()[1] for line in out.splitlines() if line.startswith("Requests/sec:")))
    p99 = next(line.split()[1] for line in out.splitlines() if line.strip().startswith("99%"))
    errors = [line.strip() for line in out.splitlines() if "Non-2xx" in line or "Socket errors" in line]
    return rps, p99, errors


def bench_serve(work, posts, feeds, n, seconds=10):
    """`tidings serve` on the archive: wrk against the site RSS feed, fetched whole, fetched
    gzipped, and revalidated with If-None-Match (a 304 each time)."""
    if shutil.which("wrk") is None:
        print("serve: skipped (apt-get install wrk)")
        return
    import json
    import socket
    import urllib.request
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    state = work / f"serve-state-{n}.db"
    for suffix in ("", "-wal", "-shm", ".posts", ".settled"):
        pathlib.Path(str(state) + suffix).unlink(missing_ok=True)
    config = work / f"serve-{n}.toml"
    config.write_text(f'[site]\ntitle = "Bench"\nurl = "https://bench.example.org/"\n'
                      f'timezone = "Asia/Shanghai"\n[content]\ndir = "{posts}"\n'
                      f'[feeds]\ndir = "{feeds}"\n[state]\npath = "{state}"\n[schedule]\nscan = "@yearly"\n'
                      f'[server]\nlisten = "127.0.0.1:{port}"\npublic_url = "http://127.0.0.1:{port}/"\n'
                      f'secret = "bench-secret-0123456789"\n', encoding="utf-8")
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([str(BINARY), "--config", str(config), "-q", "serve"], stdout=log, stderr=log)
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:
            try:
                health = json.load(urllib.request.urlopen(base + "/healthz"))
                if health.get("last_scan"):
                    break
            except OSError:
                pass
            if time.time() > deadline:
                proc.kill()
                log.seek(0)
                sys.exit("serve did not start:\n" + log.read().decode())
            time.sleep(0.1)
        url = base + "/feeds/rss.xml"
        with urllib.request.urlopen(url) as answer:
            etag = answer.headers["ETag"]
            size = len(answer.read())
        results = {
            "whole": wrk(url, seconds),
            "gzip": wrk(url, seconds, ["Accept-Encoding: gzip"]),
            "304": wrk(url, seconds, [f"If-None-Match: {etag}"]),
        }
        proc.terminate()
        _, _, usage = os.wait4(proc.pid, 0)
    line = " | ".join(f"{name}: {rps:,.0f} req/s, p99 {p99}" + (f" ({'; '.join(err)})" if err else "")
                      for name, (rps, p99, err) in results.items())
    print(f"serve GET /feeds/rss.xml ({size / 1024:.0f} KB), wrk 2 threads x 64 connections, {seconds} s each, "
          f"on the same 2 cores: {line}; server peak RSS {usage.ru_maxrss / 1024:.0f} MB")


def bench_chat():
    """One digest of 30 posts fanned out to 50 Slack-type targets on a local receiver."""
    server = Server(("127.0.0.1", 0), Accept)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    work = pathlib.Path(tempfile.mkdtemp(prefix="tidings-chat-bench-"))
    posts = work / "posts"
    posts.mkdir()
    (posts / "old.md").write_text("---\ntitle: Old\ndate: 2020-01-01\n---\nold\n", encoding="utf-8")
    targets = "".join(
        f'[notifiers.chat{i}]\ntype = "slack"\nurl = "{url}"\nmode = "digest"\nschedule = "* * * * * *"\nmax_posts = 30\n'
        for i in range(50))
    config = work / "settings.toml"
    config.write_text(f'[site]\ntitle = "Bench"\nurl = "https://bench.example.org/"\n[content]\ndir = "posts"\n'
                      f'[feeds]\ndir = "feeds"\n{targets}', encoding="utf-8")
    args = [str(BINARY), "--config", str(config), "run", "--once"]
    measure(args)
    rng = random.Random(3)
    for i in range(30):
        (posts / f"new-{i}.md").write_text(
            f"---\ntitle: '新闻 {i} {sentence(rng)[:40]}'\ndate: 2024-01-01 10:{i:02d}:00\ncategories: [a, b]\n---\n{body(rng, True)}",
            encoding="utf-8")
    time.sleep(1.1)
    elapsed, rss, out, cpu = measure(args, cpu=True)
    server.shutdown()
    shutil.rmtree(work)
    print(f"chat fan-out: one digest of 30 posts to 50 Slack targets: {elapsed:.3f} s wall, "
          f"{cpu * 1000 / 50:.1f} ms CPU per message, peak RSS {rss:.0f} MB")
    print(f"  tidings: {out}")


def bench_email():
    """One digest of 50 posts to 1,000 subscribers through a local SMTP server."""
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        print("email: skipped (pip install aiosmtpd)")
        return

    class Count:
        received = 0

        async def handle_DATA(self, server, session, envelope):
            Count.received += 1
            return "250 OK"

    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Count(), hostname="127.0.0.1", port=port)
    controller.start()
    work = pathlib.Path(tempfile.mkdtemp(prefix="tidings-email-bench-"))
    posts = work / "posts"
    posts.mkdir()
    (posts / "old.md").write_text("---\ntitle: Old\ndate: 2020-01-01\n---\nold\n", encoding="utf-8")
    (work / "subscribers.csv").write_text(
        "email,name,categories,tags\n" + "".join(f"reader{i}@example.org,Reader {i},,\n" for i in range(1000)), encoding="utf-8")
    config = work / "settings.toml"
    config.write_text(
        '[site]\ntitle = "Bench 新闻"\nurl = "https://bench.example.org/"\n[content]\ndir = "posts"\n[feeds]\ndir = "feeds"\n'
        f'[email]\nsmtp = "smtp://127.0.0.1:{port}?tls=none"\nfrom = "Bench <news@example.org>"\nrate = 10000\npool = 4\n'
        'unsubscribe_url = "https://bench.example.org/unsubscribe"\nsecret = "bench"\n'
        '[notifiers.daily]\ntype = "email"\nmode = "digest"\nschedule = "@yearly"\nsubscribers = "subscribers.csv"\nmax_posts = 50\n',
        encoding="utf-8")
    base = [str(BINARY), "--config", str(config)]
    measure(base + ["run", "--once"])
    rng = random.Random(5)
    for i in range(50):
        (posts / f"new-{i}.md").write_text(
            f"---\ntitle: '新闻 {i} {sentence(rng)[:40]}'\ndate: 2024-01-01 10:{i:02d}:00\ncategories: [c{i % 5}]\n"
            f"headimg: /img/{i}.jpg\n---\n{body(rng, True)}", encoding="utf-8")
    measure(base + ["run", "--once"])  # queues the 50 posts for the digest
    with tempfile.TemporaryFile() as err_file:
        started = time.time()
        proc = subprocess.Popen(base + ["-v", "send", "daily"], stdout=subprocess.DEVNULL, stderr=err_file)
        _, status, usage = os.wait4(proc.pid, 0)
        finished = time.time()
        err_file.seek(0)
        log = err_file.read().decode()
    controller.stop()
    shutil.rmtree(work)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"tidings send failed:\n{log}")
    stamps = [(line.split()[0], line) for line in log.splitlines() if "Z" in line.split()[0]]

    def at(marker):
        import datetime
        for stamp, line in stamps:
            if marker in line:
                return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        return None

    cut = at(" composed ")
    sends = [s for s, line in stamps if " sent " in line]
    import datetime
    last = datetime.datetime.fromisoformat(sends[-1].replace("Z", "+00:00")).timestamp() if sends else finished
    render = (cut - started) if cut else float("nan")
    deliver = last - (cut or started)
    print(f"email: digest of 50 posts to 1,000 subscribers: rendered and queued in {render:.2f} s "
          f"(process start included), delivered in {deliver:.2f} s = {Count.received / deliver:.0f} messages/s "
          f"over SMTP; {Count.received} received; peak RSS {usage.ru_maxrss / 1024:.0f} MB")


def bench_mailing(readers):
    """One digest of 20 posts to READERS readers (zh-CN, RSA-2048 DKIM, rate 10000, pool 8)
    into Postfix's smtp-sink on 127.0.0.1, beside smtp-source pushing as many messages of
    the same size into another smtp-sink in the same run."""
    sink, source = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink", shutil.which("smtp-source") or "/usr/sbin/smtp-source"
    if not (os.path.exists(sink) and os.path.exists(source)):
        print("mailing: skipped (apt-get install postfix: smtp-sink and smtp-source)")
        return
    import socket

    def free_port():
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    def start_sink(port):
        # -c counts; 256 is the listen backlog. Run as an unprivileged user when root.
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        proc = subprocess.Popen([sink, *user, f"127.0.0.1:{port}", "256"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return proc
            except OSError:
                time.sleep(0.05)
        sys.exit("smtp-sink did not start")

    arrivals = []

    class Hook(http.server.BaseHTTPRequestHandler):
        """The webhook receiver of the second run: notes when each announcement arrives."""

        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length", 0)))
            arrivals.append(time.time())
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    hook = Server(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()

    def prepare(port, daemon):
        """A site with READERS readers and 20 new posts waiting for the digest; with `daemon`,
        also a webhook notifier and a scan every second, for a running `tidings run`."""
        work = pathlib.Path(tempfile.mkdtemp(prefix="tidings-mailing-bench-"))
        posts = work / "posts"
        posts.mkdir()
        (posts / "old.md").write_text("---\ntitle: Old\ndate: 2020-01-01\n---\nold\n", encoding="utf-8")
        with open(work / "subscribers.csv", "w", encoding="utf-8") as f:
            f.write("email,name\n")
            for i in range(readers):
                f.write(f"reader{i}@example.org,读者 {i}\n")
        subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(work / "dkim.pem"), "2048"], check=True, capture_output=True)
        extra = (f'[schedule]\nscan = "* * * * * *"\n[notifiers.hook]\ntype = "webhook"\n'
                 f'url = "http://127.0.0.1:{hook.server_address[1]}/"\n') if daemon else ""
        (work / "settings.toml").write_text(
            '[site]\ntitle = "新闻"\nurl = "https://bench.example.org/"\nlanguage = "zh-CN"\n[content]\ndir = "posts"\n[feeds]\ndir = "feeds"\n'
            f'[email]\nsmtp = "smtp://127.0.0.1:{port}?tls=none"\nfrom = "新闻 <news@example.org>"\nrate = 10000\npool = 8\n'
            'unsubscribe_url = "https://bench.example.org/unsubscribe"\nsecret = "bench-secret-0123456789"\n'
            'dkim_key = "dkim.pem"\ndkim_selector = "s1"\n'
            '[notifiers.daily]\ntype = "email"\nmode = "digest"\nschedule = "@yearly"\nsubscribers = "subscribers.csv"\nmax_posts = 20\n'
            + extra,
            encoding="utf-8")
        base = [str(BINARY), "--config", str(work / "settings.toml")]
        measure(base + ["run", "--once"])
        rng = random.Random(9)
        for i in range(20):
            (posts / f"new-{i}.md").write_text(
                f"---\ntitle: '新闻 {i} {sentence(rng)[:40]}'\ndate: 2024-01-01 10:{i:02d}:00\ncategories: [c{i % 5}]\n---\n{body(rng, True)}",
                encoding="utf-8")
        measure(base + ["run", "--once"])
        return work, base

    port = free_port()
    proc = start_sink(port)
    work, base = prepare(port, daemon=False)
    started = time.time()
    out = subprocess.Popen(base + ["send", "daily"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(out.pid, 0)
    elapsed = time.time() - started
    said = out.stdout.read().decode().strip()
    proc.terminate()
    proc.wait()
    shutil.rmtree(work)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"tidings send failed: {said}")
    cpu = usage.ru_utime + usage.ru_stime
    # The same mailing again, sent by a running daemon that also has a webhook notifier: a
    # post written while the mailing goes out must still reach the webhook within seconds.
    port = free_port()
    proc = start_sink(port)
    work, base = prepare(port, daemon=True)
    settings = work / "settings.toml"
    fire = time.gmtime(time.time() + 4)
    settings.write_text(settings.read_text(encoding="utf-8").replace(
        'schedule = "@yearly"', f'schedule = "{fire.tm_sec} {fire.tm_min} {fire.tm_hour} * * *"'), encoding="utf-8")
    fired = calendar.timegm(fire)
    daemon = subprocess.Popen(base + ["run"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def sent_so_far():
        out = subprocess.run(base + ["status", "--json"], capture_output=True, text=True)
        try:
            notifiers = json.loads(out.stdout)["notifiers"]
        except ValueError:
            return 0
        return sum(n.get("sent", 0) for n in notifiers if n.get("name") == "daily")

    time.sleep(max(0.0, fired + 1.5 - time.time()))
    arrivals.clear()
    written = time.time()
    (work / "posts" / "breaking.md").write_text(
        "---\ntitle: 'Breaking news'\ndate: 2024-01-02 08:00:00\n---\nNews while the digest goes out.\n",
        encoding="utf-8")
    while not arrivals and time.time() - written < 120:
        time.sleep(0.05)
    latency = arrivals[0] - written if arrivals else float("inf")
    during = sent_so_far()
    while sent_so_far() < readers and time.time() - fired < 1800:
        time.sleep(0.5)
    daemon_elapsed = time.time() - fired
    daemon.terminate()
    daemon.wait()
    proc.terminate()
    proc.wait()
    hook.shutdown()
    shutil.rmtree(work)
    # smtp-source: as many messages, of a digest's size, 8 sessions, into a fresh sink.
    port = free_port()
    proc = start_sink(port)
    length = 40000
    started = time.time()
    subprocess.run([source, "-s", "8", "-m", str(readers), "-l", str(length), "-f", "news@example.org",
                    "-t", "reader@example.org", f"127.0.0.1:{port}"], check=True, stdout=subprocess.DEVNULL)
    reference = time.time() - started
    proc.terminate()
    proc.wait()
    ours, theirs = readers / elapsed, readers / reference
    print(f"mailing: one digest of 20 posts to {readers:,} readers (zh-CN, RSA-2048 DKIM, pool 8) into smtp-sink: "
          f"{elapsed:.1f} s = {ours:,.0f} messages/s end to end (composing included), CPU {cpu * 1000 / readers:.2f} ms "
          f"per message, peak RSS {usage.ru_maxrss / 1024:.0f} MB ({said}); smtp-source, {readers:,} messages of "
          f"{length // 1000} KB: {reference:.1f} s = {theirs:,.0f}/s; ratio {ours / theirs:.2f}")
    print(f"mailing, again by a running daemon (`tidings run`, scan every second, one webhook notifier): "
          f"{readers:,} messages in {daemon_elapsed:.1f} s; a post written 1.5 s into the mailing (with "
          f"{during:,} of them sent once it arrived) reached the webhook in {latency:.2f} s")


def pg_database(admin, name):
    """A new, empty database on the server `admin` names; its URL."""
    subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {name}"], check=True, capture_output=True)
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    base, _, query = admin.partition("?")
    return base.rsplit("/", 1)[0] + "/" + name + ("?" + query if query else "")


def node_folder(work, name, settings):
    folder = work / name
    (folder / "posts").mkdir(parents=True)
    (folder / "settings.toml").write_text(settings, encoding="utf-8")
    return folder


def start_node(folder, name):
    log = open(folder / f"{name}.log", "w")
    env = dict(os.environ, TIDINGS_NODE=name)
    return subprocess.Popen([str(BINARY), "--config", str(folder / "settings.toml"), "run"],
                            stdout=subprocess.DEVNULL, stderr=log, env=env)


def stop_nodes(procs):
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait()


def wait_for(done, limit=600):
    started = time.perf_counter()
    while not done():
        if time.perf_counter() - started > limit:
            sys.exit("bench: nothing arrived in time")
        time.sleep(0.01)
    return time.perf_counter()


def bench_nodes_webhooks(posts_src, n, admin):
    """100 new posts x 5 webhooks, delivered by daemons: 1 node SQLite, 1 node PG, 3 nodes PG."""
    server = Server(("127.0.0.1", 0), Accept)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    hooks = "".join(f'[notifiers.hook{i}]\ntype = "webhook"\nurl = "{url}"\nsecret = "bench-secret"\n' for i in range(5))
    results = []
    for label, nodes, backend in (("1 node, SQLite", 1, "sqlite"), ("1 node, PostgreSQL", 1, "pg"),
                                  ("3 nodes, PostgreSQL", 3, "pg")):
        work = pathlib.Path(tempfile.mkdtemp(prefix="tidings-nodes-bench-"))
        state = (f'path = "{work}/state.db"' if backend == "sqlite"
                 else f'url = "{pg_database(admin, f"bench_hooks_{nodes}")}"')
        settings = (f'[site]\ntitle = "Bench"\nurl = "https://bench.example.org/"\ntimezone = "Asia/Shanghai"\n'
                    f'[content]\ndir = "posts"\n[feeds]\ndir = "feeds"\n[schedule]\nscan = "* * * * * *"\n'
                    f'[state]\n{state}\n{hooks}')
        folders = []
        for i in range(nodes):
            folder = node_folder(work, f"n{i}", settings)
            shutil.rmtree(folder / "posts")
            shutil.copytree(posts_src, folder / "posts", ignore=shutil.ignore_patterns("bench-new"))
            folders.append(folder)
        measure([str(BINARY), "--config", str(folders[0] / "settings.toml"), "run", "--once"])
        procs = [start_node(folder, f"n{i}") for i, folder in enumerate(folders)]
        time.sleep(3)  # every node has scanned its folder once
        before = Accept.count
        now = time.gmtime(time.time() - 3600)
        started = time.perf_counter()
        for folder in folders:
            fresh = folder / "posts" / "bench-new"
            fresh.mkdir()
            for i in range(100):
                (fresh / f"new-{i:03d}.md").write_text(
                    f"\n---\ntitle: 'New post {i}'\ncategories: \n - bench\ndate: {time.strftime('%Y-%m-%d %H:%M:%S', now)}\n---\n\nNew body {i}.\n",
                    encoding="utf-8")
        done = wait_for(lambda: Accept.count - before >= 500)
        stop_nodes(procs)
        results.append(f"{label} {done - started:.2f} s")
        shutil.rmtree(work)
    server.shutdown()
    print(f"posts={n}: 100 new x 5 webhooks, daemons, post written to last message received: " + " | ".join(results))


def bench_nodes_digest(admin):
    """A DKIM-signed digest of 50 posts to 5,000 readers: 1 node SQLite, 1 node PG, 3 nodes PG."""
    rng = random.Random(5)
    readers = "email,name,categories,tags\n" + "".join(f"reader{i}@example.org,Reader {i},,\n" for i in range(5000))
    new_posts = [(f"new-{i}.md", f"---\ntitle: '新闻 {i} {sentence(rng)[:40]}'\ndate: 2024-01-01 10:{i:02d}:00\n"
                  f"categories: [c{i % 5}]\nheadimg: /img/{i}.jpg\n---\n{body(rng, True)}") for i in range(50)]
    results = []
    done_with = []
    # The mail goes to tmpfs when there is one: a disk's file system is slower to make files
    # just after thousands were removed (the previous run's), which would be measured too.
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    for label, nodes, backend in (("1 node, SQLite", 1, "sqlite"), ("1 node, PostgreSQL", 1, "pg"),
                                  ("3 nodes, PostgreSQL", 3, "pg")):
        work = pathlib.Path(tempfile.mkdtemp(prefix="tidings-digest-bench-"))
        mail = pathlib.Path(tempfile.mkdtemp(prefix="tidings-digest-mail-", dir=shm)) / "mail"
        subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(work / "dkim.pem"), "2048"],
                       check=True, capture_output=True)
        (work / "readers.csv").write_text(readers, encoding="utf-8")
        state = (f'path = "{work}/state.db"' if backend == "sqlite"
                 else f'url = "{pg_database(admin, f"bench_digest_{nodes}")}"')
        settings = ('[site]\ntitle = "Bench 新闻"\nurl = "https://bench.example.org/"\n[content]\ndir = "posts"\n'
                    '[feeds]\ndir = "feeds"\n[schedule]\nscan = "0 0 1 1 *"\n'
                    f'[state]\n{state}\n'
                    f'[email]\nfrom = "Bench <news@bench.example.org>"\noutbox = "{mail}"\nrate = 10000\npool = 8\n'
                    f'dkim_key = "{work}/dkim.pem"\ndkim_selector = "bench"\n'
                    'unsubscribe_url = "https://bench.example.org/unsubscribe"\nsecret = "bench"\n'
                    f'[notifiers.daily]\ntype = "email"\nmode = "digest"\nschedule = "@yearly"\n'
                    f'subscribers = "{work}/readers.csv"\nmax_posts = 50\n')
        folders = [node_folder(work, f"n{i}", settings) for i in range(nodes)]
        for folder in folders:
            (folder / "posts" / "old.md").write_text("---\ntitle: Old\ndate: 2020-01-01\n---\nold\n", encoding="utf-8")
        base = [str(BINARY), "--config", str(folders[0] / "settings.toml")]
        measure(base + ["run", "--once"])
        for folder in folders:
            for name, text in new_posts:
                (folder / "posts" / name).write_text(text, encoding="utf-8")
        measure(base + ["run", "--once"])  # queues the 50 posts for the digest
        helpers = [start_node(folder, f"n{i}") for i, folder in enumerate(folders[1:], 1)]
        time.sleep(2)
        started = time.perf_counter()
        sender = subprocess.Popen(base + ["send", "daily"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  env=dict(os.environ, TIDINGS_NODE="n0"))
        done = wait_for(lambda: mail.is_dir() and len(os.listdir(mail)) >= 5000)
        sender.wait()
        stop_nodes(helpers)
        results.append(f"{label} {done - started:.2f} s")
        done_with += [work, mail.parent]
    for folder in done_with:
        shutil.rmtree(folder)
    print("digest of 50 posts to 5,000 readers, DKIM-signed, made and delivered (file transport): " + " | ".join(results))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, action="append", help="archive size (repeatable); default 10000")
    parser.add_argument("--keep", help="folder to keep the generated archive in (reused when present)")
    parser.add_argument("--postgres", metavar="URL", help="PostgreSQL server for the nodes figures (see .ci/postgres)")
    parser.add_argument("--only-nodes", action="store_true", help="only the nodes figures (with --postgres)")
    parser.add_argument("--mailing", type=int, metavar="READERS",
                        help="only the mailing figure: one digest to READERS readers into Postfix's smtp-sink (e.g. 100000)")
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--profile", "dist", "--quiet"], cwd=ROOT, check=True)
    if args.mailing:
        bench_mailing(args.mailing)
        return
    if not args.only_nodes:
        for n in args.posts or [10000]:
            run(n, args.keep)
        bench_chat()
        bench_email()
        for folder in LEFT_FOR_LATER:
            shutil.rmtree(folder, ignore_errors=True)
    if args.postgres:
        n = 10000
        posts = pathlib.Path(args.keep or tempfile.mkdtemp(prefix="tidings-bench-")) / f"posts-{n}"
        if not posts.is_dir():
            generate(posts, n)
        work = pathlib.Path(tempfile.mkdtemp(prefix="tidings-pg-bench-"))
        bench_run(work, posts, work / "feeds", n)
        bench_run(work, posts, work / "feeds", n, pg_database(args.postgres, "bench_run_once"))
        shutil.rmtree(work)
        if not os.environ.get("BENCH_SKIP_HOOKS"):
            bench_nodes_webhooks(posts, n, args.postgres)
        bench_nodes_digest(args.postgres)


if __name__ == "__main__":
    main()
