"""Drives the emulator with Bitrix24's official Python SDK (b24pysdk, from PyPI), changing
nothing in it but its base URLs: the portal's REST base and the OAuth server's two endpoints.

Reads the line `bitrix24-emulator` prints from the environment variable EMULATOR, makes plain
calls, a batch, calls that fail, `app.info` at the OAuth server and a refresh, and exits
non-zero with the first check that fails.
"""
import json
import os
import sys

from b24pysdk import BitrixApp, BitrixToken
from b24pysdk.api.callers.call_method import _MethodCaller
from b24pysdk.api.requesters.bitrix_oauth_requester import BitrixOAuthRequester
from b24pysdk.errors import BitrixAPIError
from b24pysdk.errors.oauth import BitrixOAuthInvalidGrant

emulator = json.loads(os.environ["EMULATOR"])
domain = emulator["portal"]["domain"]
oauth = emulator["oauth"]["server_endpoint"].removesuffix("rest/")

# The base URLs, and nothing else: the SDK hardcodes https and Bitrix24's east OAuth server.
_MethodCaller._base_url = property(lambda caller: f"http://{caller._domain}/rest")
BitrixOAuthRequester._OAUTH_TOKEN_URL = f"{oauth}oauth/token/"
BitrixOAuthRequester._APP_INFO_URL = f"{oauth}rest/app.info/"

app = BitrixApp(
    client_id=emulator["app"]["client_id"],
    client_secret=emulator["app"]["client_secret"],
)
token = BitrixToken(
    domain=domain,
    auth_token=emulator["access_token"],
    refresh_token=emulator["refresh_token"],
    bitrix_app=app,
)

passed = []


def check(name, condition, detail=""):
    if not condition:
        print(f"FAILED: {name} {detail}", file=sys.stderr)
        sys.exit(1)
    passed.append(name)


profile = token.call_method("profile")
check("profile", str(profile["result"]["ID"]) == "1", profile)
check("time block", profile["time"]["date_start"] and "processing" in profile["time"], profile)

done = token.call_method("im.user.status.set", {"STATUS": "dnd"})
check("im.user.status.set", done["result"] is True, done)
status = token.call_method("im.user.status.get")
check("im.user.status.get", status["result"] == "dnd", status)

current = token.call_method("user.current")
check("user.current", str(current["result"]["ID"]) == "1", current)
info = token.call_method("app.info")
check("app.info at the portal", info["result"]["CODE"] == emulator["app"]["client_id"], info)

batch = token.call_batch({"me": ("profile", {}), "status": ("im.user.status.get", {})})
results = batch["result"]["result"]
check("batch", results["status"] == "dnd" and str(results["me"]["ID"]) == "1", batch)
check("batch times", "me" in batch["result"]["result_time"], batch)
half = token.call_batch({"ok": ("profile", {}), "bad": ("no.such.method", {})})
check("batch with a failing command", "bad" in half["result"]["result_error"], half)

try:
    token.call_method("im.user.status.set", {"STATUS": "sleeping"})
    check("a refused status raises", False)
except BitrixAPIError as error:
    check("a refused status raises", error.error == "STATUS_ERROR", error.error)

try:
    token.call_method("no.such.method")
    check("an unknown method raises", False)
except BitrixAPIError as error:
    check("an unknown method raises", error.error == "ERROR_METHOD_NOT_FOUND", error.error)

stranger = BitrixToken(domain=domain, auth_token="not-a-token", bitrix_app=app)
try:
    stranger.call_method("profile")
    check("a forged token raises", False)
except BitrixAPIError as error:
    check("a forged token raises", error.status_code == 401, error.status_code)

app_info = token.get_app_info()
check("app.info at the OAuth server", app_info.result.client_id == emulator["app"]["client_id"])
check("app.info scope", "im" in app_info.result.scope, app_info.result.scope)
check("app.info member", app_info.result.install.member_id == emulator["portal"]["member_id"])

old_refresh = token.refresh_token
token.refresh_and_set_oauth_token()
check("refresh", token.refresh_token != old_refresh)
again = token.call_method("profile")
check("a call with the new pair", str(again["result"]["ID"]) == "1", again)
try:
    app.refresh_oauth_token(refresh_token=old_refresh)
    check("a used refresh token is refused", False)
except BitrixOAuthInvalidGrant:
    check("a used refresh token is refused", True)

print(f"b24pysdk {len(passed)} checks passed: {', '.join(passed)}")
