"""Summarises `perf script -F comm,tid,ip,sym,dso` output of one process (bench/profile.sh).

    python3 bench/profile-report.py <perf.script> [top]

Parts of the stack, first match wins. "spent in" gives each sample to one part (these add up to 100 %): the part of
its innermost frame, except that the base library, the runtime (allocation, GC, casts, stubs), libc and the kernel
count for the library that called them (Npgsql's socket reads are Npgsql's), and only when nothing called them
for themselves. "on the stack" counts a sample for every part anywhere on its stack. Middleware awaits run the rest
of the request as their continuation, so a middleware's "on the stack" share includes the work after it.
"""
import re
import sys
from collections import Counter

PARTS = [
    ("OpenSSL libcrypto (RSA signing, AES, HMAC)", r"\[libcrypto\]"),
    ("JIT compiler", r"\[libclrjit\]"),
    ("runtime: libcoreclr, stubs (GC, casts, generics, interop)", r"\[libcoreclr\]|^stub |\[libclrgc\]|\[unknown in \S*\.so"),
    ("kernel", r"\[kernel\]"),
    ("rate limiter", r"RateLimit"),
    ("OpenIddict", r"OpenIddict\."),
    ("IdentityModel (JWT/JWE read and write)", r"Microsoft\.IdentityModel\.|System\.IdentityModel\."),
    ("System.Security.Cryptography (managed)", r"System\.Security\.Cryptography"),
    ("EF Core", r"Microsoft\.EntityFrameworkCore"),
    ("Npgsql", r"Npgsql"),
    ("StackExchange.Redis", r"StackExchange\.Redis"),
    ("logging", r"Microsoft\.Extensions\.Logging|LoggerMessage"),
    ("OpenTelemetry / Activity", r"OpenTelemetry|System\.Diagnostics\.(Activity|DiagnosticListener|Metrics)"),
    ("System.Text.Json", r"System\.Text\.Json"),
    ("Kestrel / ASP.NET Core", r"Microsoft\.AspNetCore\."),
    ("dependency injection", r"Microsoft\.Extensions\.DependencyInjection"),
    ("our code (SecurePlatform.*)", r"SecurePlatform\."),
    ("BCL (System.*), libc", r"\[System\.|\[netstandard\]|\[libc\]|\[libSystem\]"),
]
COMPILED = [(name, re.compile(rx)) for name, rx in PARTS]
TRANSPARENT = {PARTS[2][0], PARTS[3][0], PARTS[-1][0]}
# Frames every request passes through (threads, async plumbing): left out of the top-frames table.
PLUMBING = re.compile(
    r"start_thread|ExecutionContext::Run|AsyncMethodBuilder|AsyncTaskMethodBuilder|AsyncValueTaskMethodBuilder"
    r"|Task::RunContinuations|Task::ExecuteWith|AwaitTaskContinuation|ThreadPoolWorkQueue|PortableThreadPool"
    r"|WorkerThread|ThreadPoolTypedWorkItem|IOCompletion|SocketAsyncEngine|^\[unknown in|^stub "
    r"|\[System\.Private\.CoreLib\] System\.Threading\.|ManualResetValueTaskSourceCore|\[kernel\]$")
TIER = re.compile(r"\[(QuickJitted|OptimizedTier1|OptimizedTier1OSR|Optimized|InstrumentedTier|InstrumentedTier1|PreJIT|Tier0|Tier1)\]$")
LIBS = [("libcrypto", "libcrypto"), ("libclrjit", "libclrjit"), ("libcoreclr", "libcoreclr"), ("libclrgc", "libclrgc"),
        ("kernel", "kallsyms"), ("libc", r"^libc[.-]"), ("libSystem", r"^libSystem\.")]
FRAME = re.compile(r"\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$")


def part_of(frame):
    return next((name for name, rx in COMPILED if rx.search(frame)), None)


def frame_name(sym, dso):
    lib = dso.rsplit("/", 1)[-1]
    if sym == "[unknown]":
        sym = f"[unknown in {lib}]"
    sym = TIER.sub("", sym)  # perf-map names carry the JIT tier; the same method in two tiers is one frame here
    tag = next((tag for tag, rx in LIBS if re.search(rx, lib)), None)
    return f"{sym} [{tag}]" if tag else sym


def main():
    path, top = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20
    samples, inclusive, own, innermost, on_stack = 0, Counter(), Counter(), Counter(), Counter()
    threads = Counter()  # by thread name (perf's comm, 15 characters: ".NET TP Worker", ".NET Tiered Com", ...)
    thread = "?"

    def flush(stack):
        nonlocal samples
        if not stack:
            return
        samples += 1
        own[stack[0]] += 1
        inclusive.update(set(stack))
        found = [p for p in map(part_of, stack) if p]
        innermost[next((p for p in found if p not in TRANSPARENT), found[0] if found else "other")] += 1
        on_stack.update(set(found))
        threads[thread] += 1

    stack = []
    with open(path, errors="replace") as lines:
        for line in lines:
            match = FRAME.match(line) if line.startswith(("\t", " ")) else None
            if match:
                stack.append(frame_name(match.group(1), match.group(2)))
            else:  # a sample's header line ("<thread name> <tid>"), or the blank line after its stack
                flush(stack)
                stack = []
                if line.strip():
                    thread = line.strip().rsplit(" ", 1)[0].rstrip()
    flush(stack)
    if samples == 0:
        sys.exit("no samples")

    pct = lambda n: f"{100 * n / samples:.1f} %"
    print(f"{samples} samples")
    print("\n| part | spent in | on the stack |\n|---|---|---|")
    for name, count in innermost.most_common():
        print(f"| {name} | {pct(count)} | {pct(on_stack.get(name, count))} |")
    print("\n| thread (name as perf shows it) | share |\n|---|---|")
    for name, count in threads.most_common(8):
        print(f"| {name} | {pct(count)} |")
    print(f"\n| top {top} frames by inclusive share (thread and async plumbing left out) | inclusive | self |\n|---|---|---|")
    for frame, count in [(f, c) for f, c in inclusive.most_common() if not PLUMBING.search(f)][:top]:
        print(f"| `{frame[:150]}` | {pct(count)} | {pct(own[frame])} |")
    print(f"\n| top {top} frames by self share | self |\n|---|---|")
    for frame, count in own.most_common(top):
        print(f"| `{frame[:150]}` | {pct(count)} |")


main()
