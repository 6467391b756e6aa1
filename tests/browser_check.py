"""Open pages in headless Chromium over the DevTools protocol; fail on console errors or failed requests.

Usage: python browser_check.py CHROMIUM OUTDIR PAGE.html [PAGE.html ...]
Networking is disabled (every host resolves to nothing, proxy to a closed port); a screenshot of
each page is saved to OUTDIR. Exit status 1 lists every problem found.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import websocket


def main() -> int:
    chromium, outdir, *pages = sys.argv[1:]
    outdir = Path(outdir)
    profile = tempfile.mkdtemp(prefix="chr-")
    proc = subprocess.Popen([
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9", "--window-size=1200,900",
        f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank",
    ], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    problems: list[str] = []
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        for _ in range(200):
            if port_file.exists() and port_file.read_text().strip():
                break
            time.sleep(0.05)
        port = port_file.read_text().split()[0]
        import urllib.request

        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json"))
        ws_url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        ws = websocket.create_connection(ws_url, timeout=30)
        counter = [0]

        def send(method, **params):
            counter[0] += 1
            ws.send(json.dumps({"id": counter[0], "method": method, "params": params}))
            return counter[0]

        def collect(until_id=None, seconds=2.0):
            events, result = [], None
            end = time.time() + seconds
            while time.time() < end:
                ws.settimeout(max(0.05, end - time.time()))
                try:
                    msg = json.loads(ws.recv())
                except websocket.WebSocketTimeoutException:
                    break
                if until_id is not None and msg.get("id") == until_id:
                    result = msg.get("result")
                    if result is not None and until_id is not None:
                        return events, result
                elif "method" in msg:
                    events.append(msg)
            return events, result

        for m in ("Page.enable", "Runtime.enable", "Log.enable", "Network.enable"):
            collect(send(m), 5)
        for i, page in enumerate(pages):
            url = Path(page).resolve().as_uri()
            nav = send("Page.navigate", url=url)
            events, _ = collect(None, 4.0)
            for ev in events:
                m, p = ev["method"], ev.get("params", {})
                if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                    problems.append(f"{page}: console error {p.get('args')}")
                elif m == "Runtime.exceptionThrown":
                    problems.append(f"{page}: exception {p.get('exceptionDetails', {}).get('text')}")
                elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                    problems.append(f"{page}: log error {p['entry'].get('text')} {p['entry'].get('url', '')}")
                elif m == "Network.loadingFailed":
                    problems.append(f"{page}: failed request {p.get('errorText')} ({p.get('requestId')})")
                elif m == "Network.requestWillBeSent":
                    u = p.get("request", {}).get("url", "")
                    if not (u.startswith("file:") or u.startswith("data:") or u.startswith("about:")):
                        problems.append(f"{page}: network request to {u}")
            del nav
            sid = send("Page.captureScreenshot", format="png")
            _, res = collect(sid, 15)
            if not res:
                problems.append(f"{page}: no screenshot")
                continue
            shot = f"{i:02d}_{Path(page).parent.name}_{Path(page).stem}.png"  # e.g. 01_es_index.png
            (outdir / shot).write_bytes(base64.b64decode(res["data"]))
        ws.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
