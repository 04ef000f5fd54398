/**
 * A `@ChangeHandler` sits on a provider that is not a singleton (request-scoped, transient, or
 * depending on a request-scoped provider). Change events arrive outside any HTTP request, so there
 * is no request to build such a provider for.
 */
export class ChangeHandlerScopeError extends Error {
  constructor(
    /** `<ClassName>.<methodName>` of the refused handler. */
    readonly handler: string,
    /** The provider's scope as Nest reports it. */
    readonly scope: 'request' | 'transient',
  ) {
    super(
      `@ChangeHandler ${handler} is on a ${scope}-scoped provider` +
        (scope === 'request' ? ' (or one that depends on a request-scoped provider)' : '') +
        ': change events are handled outside any request, so handlers must live on singleton providers. ' +
        'Make the provider (and its dependencies) default-scoped, or move the handler to a singleton that ' +
        'calls into the scoped code through ModuleRef.resolve().',
    );
    this.name = 'ChangeHandlerScopeError';
  }
}
