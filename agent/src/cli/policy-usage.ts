// The usage text of `weft policy`, apart from the command so `weft --help` loads no Kubernetes client.
export const POLICY_USAGE = `usage: weft policy explain (--from NAMESPACE/SERVICEACCOUNT | --from-ip IP) --to SERVICE.NAMESPACE:PORT
                           [--method M] [--path P] [--header NAME=VALUE]... [--grpc]
                           (-f FILE_OR_DIR... | --kubeconfig FILE) [--trust-domain DOMAIN]
  prints the decision for one call and the trace; exit 0 allowed, 1 denied
  without --method/--path/--header the call is a connection: if the policies decide per
  request, the answer is the one for a stream that is not HTTP`;
