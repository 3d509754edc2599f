#!/usr/bin/env bash
# `make demo`: bring up a two-node cluster in a box, apply the demo workload, send traffic from
# the client pod to the backends on both nodes, and leave the bed running for exploration.
# Run through `make demo`, which installs and builds first.
set -euo pipefail
cd "$(dirname "$0")/.."

state=${WEFT_BED_STATE:-/run/weft-bed}
# --state goes right after the command: everything after `--` belongs to the pod.
bed() { local cmd=$1; shift; node dist/test/kit/bed/main.js "$cmd" --state "$state" "$@"; }

echo "== clearing any earlier demo bed at $state"
bed down >/dev/null

echo "== starting a two-node bed"
bed up --nodes 2
kubeconfig="$state/kubeconfig"
k() { kubectl --kubeconfig "$kubeconfig" "$@"; }

echo "== applying examples/demo/demo.yaml"
k apply -f examples/demo/demo.yaml
k -n demo wait --for=condition=Ready pod/web-1 pod/web-2 pod/client --timeout=120s

echo "== nodes, pods and the Service's EndpointSlice"
k get nodes -L topology.kubernetes.io/zone
k -n demo get pods -o wide
k -n demo get endpointslices -l kubernetes.io/service-name=web -o yaml | grep -E 'addresses|- 10\.|nodeName|zone|ready'

echo "== sending traffic: the client pod (node-1) calls the web Service's ClusterIP"
# Pod logs outlive a bed (`down` keeps them), so count only what this run adds.
served() { grep -c '"GET / HTTP/1.1" 200' "$state/logs/pods/demo_$1.log" || true; }
declare -A served_before
for pod in web-1 web-2; do served_before[$pod]=$(served "$pod"); done
svc_ip=$(k -n demo get service web -o jsonpath='{.spec.clusterIP}')
for i in $(seq 1 20); do
  code=$(bed exec client -n demo -- curl -s -D - -o /dev/null "http://$svc_ip/" | tr -d '\r' | awk 'NR==1{code=$2} END{print code}')
  printf '%s ' "$code"
done
echo
for pod in web-1 web-2; do
  echo "$pod ($(k -n demo get pod "$pod" -o jsonpath='{.spec.nodeName}')) served $(( $(served "$pod") - ${served_before[$pod]} )) requests"
done

for node in node-1 node-2; do
  ip=$(bed status | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const n=JSON.parse(s).nodes.find(n=>n.name===process.argv[1]);console.log(n.ip)})' "$node")
  echo "== $node's metrics (weft stat --node-addr $ip:15020)"
  bed exec --node "$node" -- node dist/agent/src/cli/main.js stat --node-addr "$ip:15020"
done

echo "== workload identities: node-1's certificates (from weft ca, running on node-1)"
bed exec --node node-1 -- curl -s http://127.0.0.1:15020/debug/identities; echo
node2_ip=$(bed status | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).nodes.find(n=>n.name==="node-2").ip))')
echo "== node-2's receiving side: tunnelled connections by verified source identity"
bed exec --node node-2 -- curl -s "http://$node2_ip:15020/metrics" | grep '^weft_tcp_connections_opened_total{reporter="destination"' || true

echo "== authorization: web takes only GET and HEAD (examples/demo/web-readonly.yaml)"
k apply -f examples/demo/web-readonly.yaml
post() { bed exec client -n demo -- curl -s -i -X POST "http://$svc_ip/" | tr -d '\r'; }
for _ in $(seq 1 50); do
  answer=$(post)
  [[ $answer == "HTTP/1.1 403"* ]] && break
  sleep 0.2
done
echo "$answer" | grep -E '^(HTTP/1.1|x-weft-error)|ERR_AUTHZ'
echo "== why: weft policy explain --from demo/default --to web.demo:80 --method POST"
node dist/agent/src/cli/main.js policy explain --from demo/default --to web.demo:80 --method POST --path / --kubeconfig "$kubeconfig" || true
echo "== the policy's status, written by weft controller"
for _ in $(seq 1 50); do
  [ -n "$(k -n demo get authorizationpolicy web-readonly -o jsonpath='{.status.conditions}')" ] && break
  sleep 0.2
done
k -n demo get authorizationpolicies
echo "== denials counted on each node"
for node in node-1 node-2; do
  ip=$(bed status | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const n=JSON.parse(s).nodes.find(n=>n.name===process.argv[1]);console.log(n.ip)})' "$node")
  bed exec --node "$node" -- curl -s "http://$ip:15020/metrics" | grep '^weft_authz_decisions_total' || echo "($node decided none)"
done

cat <<MSG

The client's requests went through node-1's agent: its eBPF program sent each connect to the
node proxy, which picked a backend on node-1 or node-2 and carried the request there in an mTLS
tunnel (HTTP/2 CONNECT over TLS 1.3 to port 15008) with the client's SPIFFE certificate. The
receiving agent checked the identity and counted the connection under reporter="destination".

A POST to web was denied by the destination node's agent: the policy allows GET and HEAD only.

The bed is still running. Explore it:
  export KUBECONFIG=$kubeconfig
  kubectl get pods -A -o wide
  npm run --silent bed -- status --state $state
  npm run --silent bed -- exec client -n demo --state $state -- curl -s http://$svc_ip/
  npm run --silent bed -- exec --node node-1 --state $state -- node dist/agent/src/cli/main.js stat --node-addr <node-1 IP>:15020
Remove everything it created:
  make down        (or: npm run bed -- down --state $state)
MSG
