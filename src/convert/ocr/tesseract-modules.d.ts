// tesseract.js' in-thread worker script and its Node adapter pieces (plain CommonJS without types), and UTIF.
declare module 'tesseract.js/src/worker-script' {
  export function dispatchHandlers(packet: unknown, send: (msg: { status: string; data: unknown }) => void): void;
  export function setAdapter(adapter: Record<string, unknown>): void;
}
declare module 'tesseract.js/src/worker-script/node/getCore' {
  const getCore: (...args: unknown[]) => Promise<unknown>;
  export = getCore;
}
declare module 'utif' {
  export interface IFD {
    [tag: string]: unknown;
    width?: number;
    height?: number;
    data?: Uint8Array;
  }
  export function decode(buff: ArrayBuffer | Uint8Array): IFD[];
  export function decodeImage(buff: ArrayBuffer | Uint8Array, img: IFD, ifds?: IFD[]): void;
  export function toRGBA8(img: IFD): Uint8Array;
}
