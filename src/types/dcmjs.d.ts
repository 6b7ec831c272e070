// dcmjs ships no type declarations; these cover only what the gateway uses.
declare module 'dcmjs' {
  interface DictionaryEntry {
    tag: string;
    vr: string;
    vm: string;
    name: string;
    version?: string;
  }
  const dcmjs: {
    data: {
      DicomMetaDictionary: {
        nameMap: Record<string, DictionaryEntry>;
      };
    };
  };
  export default dcmjs;
}
