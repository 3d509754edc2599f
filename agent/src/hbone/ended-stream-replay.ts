// A stand-in for a tunnel stream whose caller already half-closed while an upgrade was being
// answered: the bytes it sent after the upgrade request (already read, so they cannot be
// pushed back into an ended stream) are replayed to the HTTP parser, followed by the end;
// what the parser writes goes to the real stream. Rare (pipelining behind an upgrade request
// and then a FIN), so a small object per use is fine.
import { Duplex } from 'node:stream';

export class EndedStreamReplay extends Duplex {
  constructor(
    private readonly target: Duplex,
    unread: Buffer,
  ) {
    super({ allowHalfOpen: true });
    if (unread.length > 0) this.push(unread);
    this.push(null);
    target.once('close', () => this.destroy());
  }

  override _read(): void {}

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.target.write(chunk, encoding)) callback();
    else this.target.once('drain', () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.target.end();
    callback();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.target.destroyed) this.target.destroy(err ?? undefined);
    callback(err);
  }
}
