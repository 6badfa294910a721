#!/usr/bin/env python3
"""Screenshot of a page that renders after load (the Aspire dashboard is Blazor Server), through headless
Chromium's DevTools protocol, with the standard library only.  eng/screenshot.py URL OUT.png [seconds]"""
import base64, json, os, socket, struct, subprocess, sys, tempfile, time, urllib.request

url, out = sys.argv[1], sys.argv[2]
wait = float(sys.argv[3]) if len(sys.argv) > 3 else 15
port = 9333
profile = tempfile.mkdtemp(prefix="chromium-shot-")
chrome = subprocess.Popen(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                           f"--remote-debugging-port={port}", "--window-size=1600,900", "about:blank"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    for _ in range(100):
        try:
            pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
            ws_url = next(p["webSocketDebuggerUrl"] for p in pages if p["type"] == "page")
            break
        except Exception:
            time.sleep(0.2)
    path = ws_url.split(str(port), 1)[1]
    sock = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += sock.recv(4096)
    buf = buf.split(b"\r\n\r\n", 1)[1]

    def recv_exact(n):
        global buf
        while len(buf) < n:
            buf += sock.recv(1 << 16)
        data, buf = buf[:n], buf[n:]
        return data

    def recv_message():
        payload = b""
        while True:
            b1, b2 = recv_exact(2)
            n = b2 & 0x7F
            if n == 126:
                n = struct.unpack(">H", recv_exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", recv_exact(8))[0]
            payload += recv_exact(n)
            if b1 & 0x80:
                return payload

    ids = iter(range(1, 1000))

    def call(method, **params):
        i = next(ids)
        data = json.dumps({"id": i, "method": method, "params": params}).encode()
        mask = os.urandom(4)
        header = bytes([0x81]) + (bytes([0x80 | len(data)]) if len(data) < 126 else bytes([0x80 | 126]) + struct.pack(">H", len(data)))
        sock.sendall(header + mask + bytes(b ^ mask[j % 4] for j, b in enumerate(data)))
        while True:
            message = json.loads(recv_message())
            if message.get("id") == i:
                return message.get("result", {})

    call("Page.enable")
    call("Page.navigate", url=url)
    time.sleep(wait)
    shot = call("Page.captureScreenshot", format="png")
    with open(out, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    print(f"wrote {out}")
finally:
    chrome.terminate()
    chrome.wait(10)
