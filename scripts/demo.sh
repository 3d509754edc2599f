#!/usr/bin/env bash
# `make demo`: bring up a two-node cluster in a box, apply the demo workload, send traffic from
# the client pod to the backends on both nodes, and leave the bed running for exploration.
# Run through `make demo`, which installs and builds first.
set -euo pipefail
cd "$(dirname "$0")/.."

state=${WEFT_BED_STATE:-/run/weft-bed}
bed() { node dist/test/bed/main.js "$@" --state "$state"; }

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

echo "== sending traffic from the client pod (node-1) to each backend pod"
for pod in web-1 web-2; do
  ip=$(k -n demo get pod "$pod" -o jsonpath='{.status.podIP}')
  node=$(k -n demo get pod "$pod" -o jsonpath='{.spec.nodeName}')
  for i in 1 2 3; do
    code=$(bed exec client -n demo -- curl -s -o /dev/null -w '%{http_code}' "http://$ip:8080/")
    echo "client -> $pod ($ip on $node): HTTP $code"
  done
done

cat <<MSG

The bed is still running. Explore it:
  kubectl --kubeconfig $kubeconfig get pods -A -o wide
  node dist/test/bed/main.js status --state $state
  node dist/test/bed/main.js exec client -n demo --state $state -- curl -s http://<pod-ip>:8080/
Remove everything it created:
  make down        (or: npm run bed -- down --state $state)
MSG
