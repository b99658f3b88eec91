// Spec §15.3 payload-transform vectors (output after the 38-byte header), shared by the TS and native tests.
import { TransformId } from '../../../src/wire/types.js';

/** The random preamble / IV R of every row. */
export const SPEC_15_3_R = new Uint8Array(Buffer.from('5c29f64e6a16d438bedb758c08ccecb0', 'hex'));
const M = Uint8Array.from({ length: 60 }, (_, i) => i);
const M64 = Uint8Array.from({ length: 64 }, (_, i) => i);

/** [-k string, transform, plaintext, hex output]. */
export const SPEC_15_3_ROWS: [key: string, id: TransformId, m: Uint8Array, out: string][] = [
  [
    'mysecretpass',
    TransformId.TWOFISH,
    M,
    '5d964112584f2dfc3c62d1911412ee4b05b90b1aaec7a55c55b6440f94791f8c53d9dc2dda704f9a7c7b8eee0389f95c472464128acf9b14552b62d0cdea7c486ad0e3291f0e48d89dbec65f',
  ],
  [
    'mysecretpass',
    TransformId.AES,
    M,
    '7822d32342141d4fe0c85fbfb34438a43acdbbb626880bc27630694ddac67437f4da298ba3f46fa8bddba935e2d90177b3e8fcd02e799e72e0a06ad62afae61f3410adef699772051715921b',
  ],
  [
    'mysecretpassword_23chars',
    TransformId.AES,
    M,
    '212909ffefafc344252409926f28625999a2378296aca2422cbca8cc197ddca324d70d34536764c410f7e0c53ae300b30eb73be0fd056b2c875ee2a808865789cd985acf34addbe4cc063709',
  ],
  [
    'a_33_character_long_password_abcd',
    TransformId.AES,
    M,
    'ffc76f0ef92955c44c741d5425754e020d6671a8f7059ca76534f83cd8028c6f299d2cb5f972edc54564c31543c35127680915afc1bd2e0990c76b307d2add3ba66e6690365309fcdd91bb8a',
  ],
  [
    'mysecretpass',
    TransformId.CHACHA20,
    M,
    '5c29f64e6a16d438bedb758c08ccecb00625b63ea2c4b1bc89c9ad35f2d1f454eb7d38ac6e0566b37c4be90a78aa8e166a90b9847efa2939b1652ab92ac110d4c78972096ae07dde1313d925',
  ],
  [
    'mysecretpass',
    TransformId.SPECK,
    M,
    '5c29f64e6a16d438bedb758c08ccecb03558ddf751f745eb1b204bbe2a804752a8a6c5ac363ced063c11d844870c73112ef71d24fdd1d1e2eae0ea9c1e695bc1146ecd55c06797c54d19f074',
  ],
  [
    'mysecretpass',
    TransformId.AES,
    M64,
    '7822d32342141d4fe0c85fbfb34438a43acdbbb626880bc27630694ddac67437f4da298ba3f46fa8bddba935e2d901773410adef699772051715921b9a3b5e2d6d1bad2ece20236f485c633708955f36',
  ],
];
