// What policy decides for one request; the protocol session carries it out in an exhaustive switch.

/** Where a decision came from, for errors, records and metrics. */
export interface RuleRef {
  /** AccessPolicy name, or '' for the built-in fail-closed rules. */
  policy: string;
  /** `<policy>#<index>` or a built-in name such as `unclassified` or `default`. */
  rule: string;
}

export type Decision =
  | ({ action: 'allow' } & RuleRef)
  | ({ action: 'deny'; message: string } & RuleRef)
  | ({ action: 'approve'; approvers: string[]; timeoutSeconds: number; message: string } & RuleRef);

export type DecisionAction = Decision['action'];
