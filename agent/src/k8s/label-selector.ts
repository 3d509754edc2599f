// Kubernetes label selectors (metav1.LabelSelector) as the API server defines them: matchLabels
// and matchExpressions are ANDed; an empty selector matches everything. Used by policy targets
// and namespace selectors; a selector that cannot be evaluated is reported, never guessed.

export interface LabelSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export type Labels = Readonly<Record<string, string>>;

/** Why the selector cannot be evaluated, or undefined when it is well-formed. */
export function labelSelectorProblem(selector: LabelSelector): string | undefined {
  for (const [i, req] of (selector.matchExpressions ?? []).entries()) {
    const values = req.values ?? [];
    switch (req.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) return `matchExpressions[${i}].values: must be non-empty for operator ${req.operator}`;
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) return `matchExpressions[${i}].values: must be empty for operator ${req.operator}`;
        break;
      default:
        return `matchExpressions[${i}].operator: unsupported value "${req.operator}" (In, NotIn, Exists, DoesNotExist)`;
    }
  }
  return undefined;
}

/** Whether `labels` satisfy a well-formed selector (check labelSelectorProblem first). */
export function matchesLabelSelector(selector: LabelSelector, labels: Labels): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const req of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, req.key);
    const value = has ? labels[req.key]! : undefined;
    switch (req.operator) {
      case 'In':
        if (value === undefined || !(req.values ?? []).includes(value)) return false;
        break;
      case 'NotIn':
        if (value !== undefined && (req.values ?? []).includes(value)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}
