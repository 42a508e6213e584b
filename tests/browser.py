"Headless Chromium for the browser tests (the HTML report, the docs site, the explorer): where it is and how it starts."
import shutil, subprocess

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
NO_CHROMIUM = "no Chromium found: install it to run the browser tests (Debian/Ubuntu: `apt-get install chromium`; .ci/run does this)"

def headless_cmd(*args, profile) -> list[str]:
    "The command line of a headless Chromium with its own profile folder, as every browser test starts it."
    return [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args]

def chromium(*args, profile, timeout:int=180, offline:bool=False) -> subprocess.CompletedProcess:
    "Run headless Chromium on local files (`--dump-dom`, `--screenshot`...); `offline`: no host name resolves."
    extra = ["--allow-file-access-from-files"] + (["--host-resolver-rules=MAP * ~NOTFOUND"] if offline else [])
    return subprocess.run(headless_cmd(*extra, *args, profile=profile), capture_output=True, text=True, timeout=timeout)
