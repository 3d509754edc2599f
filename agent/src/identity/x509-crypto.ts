// @peculiar/x509 signs and verifies through WebCrypto; Node's implementation is set once here so
// every CA module that imports x509 through this file gets a configured provider.
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);

export { x509, webcrypto };
