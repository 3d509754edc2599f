// Rules kube-apiserver enforces on pod templates beyond the OpenAPI schema (from
// pkg/apis/core/validation), which kubernetes-models cannot know. A DaemonSet that breaks one is
// refused at `helm install` on a real cluster even though every schema accepts it.
export function podTemplateViolations(podSpec: any, path: string): string[] {
  const violations: string[] = [];
  const containers = [...(podSpec.initContainers ?? []), ...(podSpec.containers ?? [])];
  for (const container of containers) {
    const where = `${path}.containers[${container.name}]`;
    const security = container.securityContext ?? {};
    const privileged = security.privileged === true;
    // validateMountPropagation: Bidirectional only for privileged containers.
    for (const mount of container.volumeMounts ?? []) {
      if (mount.mountPropagation === 'Bidirectional' && !privileged) {
        violations.push(`${where}.volumeMounts[${mount.name}].mountPropagation: Bidirectional mount propagation is available only to privileged containers`);
      }
    }
    // ValidateSecurityContext: no privilege escalation switch-off together with privileged or CAP_SYS_ADMIN.
    if (security.allowPrivilegeEscalation === false) {
      if (privileged) violations.push(`${where}.securityContext: cannot set allowPrivilegeEscalation to false and privileged to true`);
      const added: string[] = security.capabilities?.add ?? [];
      if (added.includes('CAP_SYS_ADMIN') || added.includes('SYS_ADMIN')) {
        violations.push(`${where}.securityContext: cannot set allowPrivilegeEscalation to false and capabilities.Add CAP_SYS_ADMIN`);
      }
    }
    // validateHostNetwork: with hostNetwork, a hostPort must equal its containerPort.
    if (podSpec.hostNetwork === true) {
      for (const port of container.ports ?? []) {
        if (port.hostPort !== undefined && port.hostPort !== port.containerPort) {
          violations.push(`${where}.ports[${port.containerPort}].hostPort: must match containerPort when hostNetwork is true`);
        }
      }
    }
  }
  const volumeNames = new Set((podSpec.volumes ?? []).map((volume: { name: string }) => volume.name));
  for (const container of containers) {
    for (const mount of container.volumeMounts ?? []) {
      if (!volumeNames.has(mount.name)) violations.push(`${path}.containers[${container.name}].volumeMounts[${mount.name}]: not found among the pod's volumes`);
    }
  }
  return violations;
}
