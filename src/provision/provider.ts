/**
 * What vmres asks of a provider: one small interface, every call idempotent
 * (a retry after a crash repeats a call that may have happened) and bounded
 * by a timeout. Instances are named by vmres (the instance's name is also the
 * VM's) and carry the vmres labels, so `list` finds those nobody recorded.
 */
export interface Provider {
  /** Creates and starts the instance `name` from `source`, or finds it if it exists already. */
  create(spec: { name: string; source: string; pool: string }): Promise<CreatedMachine>;
  start(ref: string): Promise<void>;
  /** Stops it; a stopped or missing instance is fine. */
  stop(ref: string): Promise<void>;
  /** Deletes it; a missing instance is fine. */
  delete(ref: string): Promise<void>;
  /** Saves the (stopped) instance as image `name`; returns the image's reference (to create from). An image of that name already saved is returned as is. */
  saveImage(ref: string, name: string): Promise<string>;
  /** Deletes an image; a missing one is fine. */
  deleteImage(ref: string): Promise<void>;
  /** The instances of this pool the provider has (by the vmres labels; docker: this installation's only). */
  list(pool: string): Promise<ListedMachine[]>;
}

/** What a create gives back: the provider's id for it and how to reach it. */
export interface CreatedMachine {
  ref: string;
  ip: string;
  sshUser: string;
  sshPort: number;
}

export interface ListedMachine {
  name: string;
  ref: string;
}

/** The labels every instance carries (and saved images: `installation`); `installation` is the id in the database's `installation` row. */
export const LABELS = { instance: "vmres.instance", pool: "vmres.pool", installation: "vmres.installation" } as const;

/** A provider call that went wrong, with the step and instance in its message. */
export class ProviderError extends Error {
  readonly code = "provider_failed";
  /** A repeat would fail the same way (a refusal to touch what is not ours): the job fails at once instead of after its retries. */
  readonly permanent: boolean;
  constructor(message: string, options?: { cause?: unknown; permanent?: boolean }) {
    super(message, options);
    this.name = "ProviderError";
    this.permanent = options?.permanent ?? false;
  }
}

/** Races a call against its timeout, naming the step when it runs out. */
export async function withTimeout<T>(step: string, ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ProviderError(`${step} did not finish within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
