/** The bundler (scripts/build-web.js) imports .graphql files as their text. */
declare module '*.graphql' {
  const text: string;
  export default text;
}

/** Imported for their side effect: the bundler emits them as the page's main.css. */
declare module '*.css';
