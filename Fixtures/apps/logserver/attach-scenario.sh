#!/bin/sh
# Attach scenario for the tests: start the log server untraced, attach roprof, send 3 requests,
# then stop roprof (SIGINT, or --for), and check the server still answers untraced.
# Usage: attach-scenario.sh ROPROF DIR PORT MODE   (MODE: ctrl-c | for)
set -u
ROPROF=$1 DIR=$2 PORT=$3 MODE=$4
HERE=$(dirname "$0")
get() { python3 -c "import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode().strip())" "http://127.0.0.1:$PORT$1"; }
python3 "$HERE/server.py" "$PORT" "$DIR" & SERVER=$!
i=0; until get /ready >/dev/null 2>&1; do i=$((i+1)); [ $i -gt 100 ] && { echo "error=server did not start"; kill $SERVER; exit 1; }; sleep 0.1; done
echo "server=$SERVER"
if [ "$MODE" = for ]; then
  "$ROPROF" record --quiet -o "$DIR/attach.json" --attach "$SERVER" --for 2 & RP=$!
else
  "$ROPROF" record --quiet -o "$DIR/attach.json" --attach "$SERVER" & RP=$!
fi
sleep 0.8
for n in 1 2 3; do echo "during=$(get /during$n)"; done
[ "$MODE" = ctrl-c ] && kill -INT $RP
wait $RP; echo "roprof_status=$?"
echo "after=$(get /after)"
echo "tracer=$(awk '/TracerPid/ {print $2}' /proc/$SERVER/status)"
kill $SERVER; wait $SERVER 2>/dev/null
exit 0
